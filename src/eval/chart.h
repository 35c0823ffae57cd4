/*
 * chart.h: a grouped bar chart as a standalone SVG document, written by
 * hand (no dependency): one panel per metric family (NDCG@K, precision@K),
 * K on the x axis, one bar per configuration with its spread as an error
 * bar, y axis with ticks and grid lines, a legend and a title. Every bar
 * carries a <title> with its exact value (a tooltip in browsers).
 */
#ifndef SAVOR_CHART_H
#define SAVOR_CHART_H

#include "common/base.h"

#define CHART_MAX_GROUPS 8

struct chart_panel {
    const char *title; /* "NDCG@K" */
    size_t ngroups;    /* x positions, e.g. K = 5, 10, 25 */
    const char *groups[CHART_MAX_GROUPS];
    const double *mean; /* nseries x ngroups */
    const double *err;  /* nseries x ngroups (half-height of the error bar), or NULL */
};

struct chart {
    const char *title;
    const char *subtitle; /* may be NULL */
    const char *xlabel;   /* "K (recommendations considered)" */
    size_t nseries;
    const char *const *series; /* labels */
    size_t npanels;
    const struct chart_panel *panels;
};

/* The SVG document (UTF-8 text; caller frees). Labels are escaped. */
char *chart_svg(const struct chart *c);

#endif
