#include "a.h"
/* #include "../top.h" */
#include "http/server.h"
