#ifndef ANY_H
#define ANY_H
#include "../src/http/server.h" /* lib/ is in no layer: unconstrained */
#endif
