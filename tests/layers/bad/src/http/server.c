#include "server.h"
#include "capture/rec.h"
