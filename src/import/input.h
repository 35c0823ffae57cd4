/*
 * input.h: where import bytes come from: a file, a gzip file, or stdin.
 *
 * Compression is detected from the content (the gzip magic), not the name,
 * so "data.csv.gz", a gzip stream on stdin and a plain file all just work.
 */
#ifndef SAVOR_INPUT_H
#define SAVOR_INPUT_H

#include "common/base.h"

struct input;

/* Open 'path', or stdin when path is "-". The caller frees with input_close(). */
enum rc input_open(const char *path, struct input **out, struct err *e);
void input_close(struct input *in);

/* A csv_read_fn over 'in' (pass the input as ctx). */
enum rc input_read(void *in, char *buf, size_t cap, size_t *got, struct err *e);

/* Size of the file on disk (compressed size for gzip), 0 when unknown (stdin, pipes). */
uint64_t input_size(const struct input *in);
/* Bytes of the file on disk consumed so far. */
uint64_t input_offset(const struct input *in);
/* The name to show in messages: the path, or "<stdin>". */
const char *input_name(const struct input *in);

#endif
