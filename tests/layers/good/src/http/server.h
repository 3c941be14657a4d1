#ifndef SERVER_H
#define SERVER_H
#include "core/base.h"
#endif
