#ifndef REC_H
#define REC_H
#include <core/base.h>
#endif
