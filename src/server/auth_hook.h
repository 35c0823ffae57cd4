/*
 * auth_hook.h: SigV4 verification (auth.h) as the HTTP server's
 * authentication hook (server_auth_fn in http.h).
 */
#ifndef SAVOR_AUTH_HOOK_H
#define SAVOR_AUTH_HOOK_H

#include "common/base.h"
#include "api/api.h"
#include "server/auth.h"
#include "server/http.h"

/*
 * A server_auth_fn: 'keys' is the struct auth_keys (borrowed; must outlive
 * the server). Verifies the request with the server's clock and fills 'err'
 * with AWS's status, type and message on refusal.
 */
enum rc auth_hook(void *keys, const struct server_request_view *req, struct api_error *err);

#endif
