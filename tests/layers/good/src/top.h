#ifndef TOP_H
#define TOP_H
#include "http/server.h"
#endif
