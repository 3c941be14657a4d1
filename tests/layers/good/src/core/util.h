#ifndef CORE_UTIL_H
#define CORE_UTIL_H
#endif
