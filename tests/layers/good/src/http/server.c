#include "server.h"
#include "util.h" /* http/util.h */
