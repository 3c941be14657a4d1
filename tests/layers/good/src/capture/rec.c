#include "rec.h"
#include "profile.pb-c.h" /* generated: not a module here */
