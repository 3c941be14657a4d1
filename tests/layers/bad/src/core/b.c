#include "b.h"
#include "c.h"
#include <util.h> /* <>: the -I folders only, so src/util.h */
