#ifndef HTTP_UTIL_H
#define HTTP_UTIL_H
#include "../core/util.h"
#endif
