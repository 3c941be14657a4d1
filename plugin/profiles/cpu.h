/*
 * plugin/profiles/cpu.h - /debug/pprof/profile?seconds=N: a CPU profile of
 * the whole process as symbolized profile.proto, from a place in the CPU
 * slot (capture/cpu.h), with X-Takhin-Cpu-Hz saying the rates asked and
 * achieved; ?past=N[&seconds=M]: from the flight recorder (flight.h).
 */
#ifndef TAKHIN_PLUGIN_PROFILES_CPU_H
#define TAKHIN_PLUGIN_PROFILES_CPU_H

#include "capture/cpu.h"
#include "core/settings.h"
#include "http/http.h"
#include "profiles/flight.h"

/* The endpoint's context. */
typedef struct prof_cpu_endpoint {
    prof_cpu *cpu;
    pf_symbolizer *sym;
    const prof_host *ph;
    prof_flight *flight; /* ?past=N */
} prof_cpu_endpoint;

/* The handler; req->ctx is a prof_cpu_endpoint. */
void prof_cpu_handle(prof_request *req);

#endif
