#ifndef REC_H
#define REC_H
#include "../core/util.h"
#endif
