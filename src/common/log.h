/*
 * log.h: one stderr line per event: "ts level module msg".
 *
 * The macros test the level before formatting (the redis serverLog model),
 * so a disabled debug line costs one comparison. Lower layers return a
 * struct err and leave printing to their callers.
 */
#ifndef SAVOR_LOG_H
#define SAVOR_LOG_H

#include "common/base.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

extern enum log_level log_threshold;

/* Parse "debug|info|warn|error|off"; returns false if unknown. */
bool log_level_parse(const char *s, enum log_level *out);
void log_write(enum log_level level, const char *module, const char *fmt, ...) PRINTF_LIKE(3, 4);

#define LOG_AT(level, module, ...)                                               \
    do {                                                                         \
        if ((level) >= log_threshold) log_write((level), (module), __VA_ARGS__); \
    } while (0)
#define log_debug(module, ...) LOG_AT(LOG_DEBUG, module, __VA_ARGS__)
#define log_info(module, ...)  LOG_AT(LOG_INFO, module, __VA_ARGS__)
#define log_warn(module, ...)  LOG_AT(LOG_WARN, module, __VA_ARGS__)
#define log_error(module, ...) LOG_AT(LOG_ERROR, module, __VA_ARGS__)

#endif
