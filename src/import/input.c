/*
 * input.c: file, gzip and stdin input through zlib's transparent gzread.
 */
#include "common/base.h"
#include "import/input.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct input {
    gzFile gz;
    int fd;
    char *name;
    uint64_t size;
};

enum rc input_open(const char *path, struct input **out, struct err *e)
{
    int fd;
    bool is_stdin = strcmp(path, "-") == 0;
    if (is_stdin) {
        fd = dup(STDIN_FILENO);
        if (fd < 0) return err_set(e, RC_IO, "<stdin>: %s", strerror(errno));
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return err_set(e, RC_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return err_set(e, RC_IO, "%s: %s", path, strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return err_set(e, RC_IO, "%s: is a directory, expected a CSV file", path);
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return err_set(e, RC_NOMEM, "%s: cannot start decompression", path);
    }
    gzbuffer(gz, 1 << 20);
    struct input *in = xcalloc(1, sizeof(*in));
    in->gz = gz;
    in->fd = fd;
    in->name = xstrdup(is_stdin ? "<stdin>" : path);
    in->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    *out = in;
    return RC_OK;
}

void input_close(struct input *in)
{
    if (!in) return;
    gzclose(in->gz); /* also closes fd */
    free(in->name);
    free(in);
}

enum rc input_read(void *ctx, char *buf, size_t cap, size_t *got, struct err *e)
{
    struct input *in = ctx;
    if (cap > INT_MAX) cap = INT_MAX;
    int n = gzread(in->gz, buf, (unsigned)cap);
    if (n < 0) {
        int code;
        const char *msg = gzerror(in->gz, &code);
        if (code == Z_ERRNO) msg = strerror(errno);
        return err_set(e, RC_IO, "%s: read error: %s", in->name, msg);
    }
    if (n == 0) {
        /* End of input; zlib reports a truncated gzip stream only through gzerror. */
        int code;
        const char *msg = gzerror(in->gz, &code);
        if (code != Z_OK) {
            /* zlib prefixes its messages with its own name for the file: "<fd:6>: ". */
            const char *colon = msg[0] == '<' ? strstr(msg, ">: ") : NULL;
            if (colon) msg = colon + 3;
            return err_set(e, RC_IO, "%s: truncated or corrupt gzip data: %s", in->name, msg);
        }
    }
    *got = (size_t)n;
    return RC_OK;
}

uint64_t input_size(const struct input *in)
{
    return in->size;
}

uint64_t input_offset(const struct input *in)
{
    long off = gzoffset(in->gz);
    return off > 0 ? (uint64_t)off : 0;
}

const char *input_name(const struct input *in)
{
    return in->name;
}
