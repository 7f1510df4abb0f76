/* SPDX-License-Identifier: Apache-2.0
 * health_tcp.c -- a TCP check: healthy when a connection to address:port
 * completes within the timeout. Nothing is sent; the connection is closed
 * at once.
 */
#include <string.h>

#include "health/health_internal.h"

static void on_closed(uv_handle_t *handle)
{
	health_probe_idle(handle->data);
}

static void finish(health_probe_t *p)
{
	uv_timer_stop(&p->deadline);
	if (!uv_is_closing((uv_handle_t *)&p->tcp)) {
		uv_close((uv_handle_t *)&p->tcp, on_closed);
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	health_probe_t *p = req->data;
	if (status == 0) {
		health_probe_result(p, true, "connected");
	} else {
		health_probe_result(p, false, "connect: %s", uv_strerror(status));
	}
	finish(p);
}

static void on_deadline(uv_timer_t *t)
{
	health_probe_t *p = t->data;
	health_probe_result(p, false, "connect: no answer within %ums", p->spec->timeout_ms);
	finish(p);   /* the connect callback follows with UV_ECANCELED */
}

void health_tcp_start(health_probe_t *p)
{
	uv_loop_t *loop = &p->h->loop;
	int r = uv_tcp_init(loop, &p->tcp);
	if (r != 0) {
		health_probe_result(p, false, "socket: %s", uv_strerror(r));
		health_probe_idle(p);
		return;
	}
	p->tcp.data = p;
	p->connect.data = p;
	r = uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&p->spec->addr,
	                   on_connect);
	if (r != 0) {
		health_probe_result(p, false, "connect: %s", uv_strerror(r));
		finish(p);
		return;
	}
	uv_timer_start(&p->deadline, on_deadline, p->spec->timeout_ms, 0);
}

void health_tcp_abort(health_probe_t *p)
{
	finish(p);
}
