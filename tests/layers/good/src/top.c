#include "top.h"
#include "capture/rec.h"
#include "util.h"
#include "../lib/any.h"
