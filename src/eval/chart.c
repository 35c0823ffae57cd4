/*
 * chart.c: the grouped bar chart of chart.h.
 */
#include "common/base.h"
#include "eval/chart.h"
#include "common/buf.h"

#include <math.h>

#define PANEL_W    420.0
#define PANEL_H    300.0
#define MARGIN_L   70.0
#define MARGIN_T   92.0
#define GAP        60.0
#define LEGEND_ROW 22.0

/* Okabe-Ito: distinguishable with the common colour-vision deficiencies. */
static const char *const palette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                      "#56B4E9", "#D55E00", "#F0E442", "#000000"};

static void add_escaped(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            buf_addstr(b, "&amp;");
            break;
        case '<':
            buf_addstr(b, "&lt;");
            break;
        case '>':
            buf_addstr(b, "&gt;");
            break;
        case '"':
            buf_addstr(b, "&quot;");
            break;
        case '\'':
            buf_addstr(b, "&apos;");
            break;
        default:
            /* Control characters are not allowed in XML 1.0. */
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n') buf_addch(b, *s);
        }
    }
}

/* A round step for about 5 ticks up to 'max': 1, 2 or 5 times a power of ten. */
static double nice_step(double max)
{
    if (!(max > 0)) return 0.2;
    double raw = max / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void panel(struct buf *b, const struct chart *c, const struct chart_panel *p, double x0,
                  double y0)
{
    double top = 0;
    for (size_t s = 0; s < c->nseries; s++)
        for (size_t g = 0; g < p->ngroups; g++) {
            double v = p->mean[s * p->ngroups + g] + (p->err ? p->err[s * p->ngroups + g] : 0);
            if (isfinite(v) && v > top) top = v;
        }
    double step = nice_step(top);
    double ymax = step * ceil(top / step);
    if (ymax <= 0) ymax = step * 5;
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step));
    if (decimals > 6) decimals = 6;
#define Y(v) (y0 + PANEL_H - (v) / ymax * PANEL_H)
    buf_addf(b, "<g class=\"panel\">\n<text x=\"%.1f\" y=\"%.1f\" class=\"ptitle\">",
             x0 + PANEL_W / 2, y0 - 12);
    add_escaped(b, p->title);
    buf_addstr(b, "</text>\n");
    /* Grid and y ticks. */
    for (double v = 0; v <= ymax + step / 2; v += step) {
        buf_addf(b,
                 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" class=\"ytick\">%.*f</text>\n",
                 x0, Y(v), x0 + PANEL_W, Y(v), x0 - 6, Y(v) + 4, decimals, v);
    }
    /* Bars. */
    double gw = PANEL_W / (double)(p->ngroups ? p->ngroups : 1);
    double bw = gw * 0.8 / (double)(c->nseries ? c->nseries : 1);
    for (size_t g = 0; g < p->ngroups; g++) {
        double gx = x0 + gw * (double)g + gw * 0.1;
        for (size_t s = 0; s < c->nseries; s++) {
            double v = p->mean[s * p->ngroups + g];
            double er = p->err ? p->err[s * p->ngroups + g] : 0;
            if (!isfinite(v)) continue;
            double x = gx + bw * (double)s;
            buf_addf(
                b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
                x + 1, Y(v), bw - 2, Y(0) - Y(v), palette[s % ARRAY_SIZE(palette)]);
            add_escaped(b, c->series[s]);
            buf_addstr(b, ": ");
            add_escaped(b, p->title);
            buf_addf(b, " K=");
            add_escaped(b, p->groups[g]);
            buf_addf(b, " = %.4f &#177; %.4f</title></rect>\n", v, er);
            if (er > 0 && isfinite(er)) {
                double cx = x + bw / 2;
                buf_addf(
                    b,
                    "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" class=\"err\"/>\n",
                    cx, Y(v + er), Y(v - er > 0 ? v - er : 0), cx - bw / 5, Y(v + er), cx + bw / 5,
                    cx - bw / 5, Y(v - er > 0 ? v - er : 0), cx + bw / 5);
            }
        }
        buf_addf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"xtick\">", x0 + gw * ((double)g + 0.5),
                 y0 + PANEL_H + 18);
        add_escaped(b, p->groups[g]);
        buf_addstr(b, "</text>\n");
    }
    /* Axes and their labels. */
    buf_addf(b,
             "<path d=\"M%.1f %.1fV%.1fH%.1f\" class=\"axis\"/>\n"
             "<text x=\"%.1f\" y=\"%.1f\" class=\"xlabel\">",
             x0, y0, y0 + PANEL_H, x0 + PANEL_W, x0 + PANEL_W / 2, y0 + PANEL_H + 40);
    add_escaped(b, c->xlabel);
    buf_addf(b, "</text>\n<text transform=\"translate(%.1f %.1f) rotate(-90)\" class=\"ylabel\">",
             x0 - 50, y0 + PANEL_H / 2);
    add_escaped(b, p->title);
    buf_addstr(b, "</text>\n</g>\n");
#undef Y
}

char *chart_svg(const struct chart *c)
{
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    double width = MARGIN_L + (double)c->npanels * (PANEL_W + GAP) + 20;
    size_t per_row = (size_t)((width - MARGIN_L) / 260.0);
    if (per_row < 1) per_row = 1;
    size_t rows = (c->nseries + per_row - 1) / per_row;
    double legend_y = MARGIN_T + PANEL_H + 70;
    double height = legend_y + (double)rows * LEGEND_ROW + 20;
    buf_addf(
        &b,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
        "viewBox=\"0 0 %.0f %.0f\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        "<style>\n"
        ".title{font-size:18px;font-weight:bold} .subtitle{font-size:12px;fill:#555}\n"
        ".ptitle{font-size:14px;font-weight:bold;text-anchor:middle}\n"
        ".grid{stroke:#e5e5e5} .axis{stroke:#333;fill:none}\n"
        ".ytick{font-size:11px;text-anchor:end;fill:#333} .xtick{font-size:12px;text-anchor:middle}\n"
        ".xlabel,.ylabel{font-size:12px;text-anchor:middle;fill:#333}\n"
        ".err{stroke:#222;stroke-width:1.2;fill:none} .legend{font-size:12px}\n"
        "</style>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
        "<text x=\"%.1f\" y=\"28\" class=\"title\">",
        width, height, width, height, MARGIN_L - 50);
    add_escaped(&b, c->title);
    buf_addstr(&b, "</text>\n");
    if (c->subtitle) {
        buf_addf(&b, "<text x=\"%.1f\" y=\"48\" class=\"subtitle\">", MARGIN_L - 50);
        add_escaped(&b, c->subtitle);
        buf_addstr(&b, "</text>\n");
    }
    for (size_t i = 0; i < c->npanels; i++)
        panel(&b, c, &c->panels[i], MARGIN_L + (double)i * (PANEL_W + GAP), MARGIN_T);
    buf_addstr(&b, "<g class=\"legend\">\n");
    for (size_t s = 0; s < c->nseries; s++) {
        double x = MARGIN_L + (double)(s % per_row) * 260.0;
        double y = legend_y + (double)(s / per_row) * LEGEND_ROW;
        buf_addf(&b,
                 "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">",
                 x, y - 11, palette[s % ARRAY_SIZE(palette)], x + 20, y);
        add_escaped(&b, c->series[s]);
        buf_addstr(&b, "</text>\n");
    }
    buf_addstr(&b, "</g>\n</svg>\n");
    return buf_detach(&b, NULL);
}
