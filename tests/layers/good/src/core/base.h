#ifndef BASE_H
#define BASE_H
#include "util.h" /* core/util.h: the including folder comes first */
int base(void);
#endif
