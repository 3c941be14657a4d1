#ifndef CFG_H
#define CFG_H
#include "util.h"
#endif
