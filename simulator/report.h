/* report.h - malloc-sim's outputs: the text report, --json, --timeline
 * (formats: notes-for-helpers/json.md, README of simulator/). */
#ifndef SIM_REPORT_H
#define SIM_REPORT_H

#include "sim.h"

#include <stdio.h>

void sim_report_text(FILE *f, const char *trace, const sim_run_t *run);
/* Returns 0, or -1 when writing failed. */
int sim_report_json(FILE *f, const char *trace, const sim_run_t *run);
int sim_report_timeline(FILE *f, const sim_run_t *run);

#endif /* SIM_REPORT_H */
