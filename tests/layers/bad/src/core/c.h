#ifndef C_H
#define C_H
#include "a.h"
#endif
