/*
 * progress.c: "import [#####.....] 52% 1.2M rows 85.3 MB/s ETA 3s"
 */
#include "common/progress.h"
#include "common/clock.h"

#include <unistd.h>

void progress_begin(struct progress *p, FILE *out, const char *label, const char *unit,
                    uint64_t total_bytes, bool force)
{
    memset(p, 0, sizeof(*p));
    if (out && (force || isatty(fileno(out)))) p->out = out;
    p->label = label;
    p->unit = unit;
    p->total_bytes = total_bytes;
    p->start = clock_monotonic();
}

static void human_count(char *dst, size_t n, uint64_t v)
{
    if (v >= 1000000)
        snprintf(dst, n, "%.1fM", (double)v / 1e6);
    else if (v >= 10000)
        snprintf(dst, n, "%.1fk", (double)v / 1e3);
    else
        snprintf(dst, n, "%llu", (unsigned long long)v);
}

static void draw(struct progress *p, uint64_t count, uint64_t bytes, double now)
{
    double elapsed = now - p->start;
    double mbps = elapsed > 0 ? (double)bytes / 1e6 / elapsed : 0;
    char cnt[32];
    human_count(cnt, sizeof(cnt), count);
    if (p->total_bytes) {
        double frac = (double)bytes / (double)p->total_bytes;
        if (frac > 1) frac = 1;
        char bar[31];
        int filled = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
        fprintf(p->out, "\r%s [%s] %3d%% %s %s %.1f MB/s ETA %.0fs  ", p->label, bar,
                (int)(frac * 100), cnt, p->unit, mbps, eta);
    } else {
        fprintf(p->out, "\r%s %s %s %.1f MB/s  ", p->label, cnt, p->unit, mbps);
    }
    fflush(p->out);
    p->drawn = true;
    p->last_draw = now;
}

void progress_update(struct progress *p, uint64_t count, uint64_t bytes)
{
    if (!p->out) return;
    double now = clock_monotonic();
    if (p->drawn && now - p->last_draw < 0.1) return;
    draw(p, count, bytes, now);
}

void progress_end(struct progress *p, uint64_t count, uint64_t bytes)
{
    if (!p->out) return;
    draw(p, count, p->total_bytes ? p->total_bytes : bytes, clock_monotonic());
    fputc('\n', p->out);
    fflush(p->out);
}
