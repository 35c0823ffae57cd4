/*
 * banned.h: functions that must not be used in savor (the git/curl model).
 * Each has a bounded or reentrant replacement: snprintf, strlcpy_, strtoll with
 * explicit checks, gmtime_r, localtime_r.
 */
#ifndef SAVOR_BANNED_H
#define SAVOR_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_savor

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gmtime
#define gmtime(x) BANNED(gmtime)
#undef localtime
#define localtime(x) BANNED(localtime)
#undef atoi
#define atoi(x) BANNED(atoi)

#endif
