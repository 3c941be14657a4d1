#include "base.h"
#include <stdio.h>
#include "cfg.h"
/* #include "top.h" is a comment, not an include */
// #include "../top.h"
const char *s = "#include \"top.h\"";
int base(void) { return 0; }
