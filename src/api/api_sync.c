/* SPDX-License-Identifier: Apache-2.0
 * api_sync.c -- a change is acknowledged once it is on disk, and the wait
 * for the disk happens off the request's thread.
 *
 * A change (a REST PATCH, an instance registered or deregistered: the
 * handlers that set req->lazy) is served
 * as soon as its commit is in the WAL, and its reply waits for the WAL's
 * fsync (docs/architecture.md, "Order of a change"). libmicrohttpd binds a
 * connection to one of its few threads, so a handler that waited for the
 * fsync itself held every other connection of that thread for as long
 * (1 to 10 ms under load), for instance a registration queued behind a
 * heartbeat client's deregistration. Here the handler only prepares its
 * reply; if a commit still waits for the disk, the connection is suspended
 * and queued to this thread, which runs one ctl_sync() for everything
 * queued (an fsync covers all commits before it), replaces a 2xx reply by
 * a 500 when the disk failed, and resumes the connections: libmicrohttpd
 * then calls on_request again and the reply goes out.
 */
#include <pthread.h>
#include <stdlib.h>

#include "api/api_internal.h"
#include "util/error.h"

struct api_sync {
	ctl_t *ctl;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	api_req_t *queue;          /*!< suspended requests, newest first */
	bool stop;
};

/* After the fsync: the reply of a change the disk did not confirm becomes
 * that 500 (an error reply stays: nothing it reported was done). */
static void settle(api_req_t *req, int rc, const ctl_error_t *err)
{
	if (rc != 0 && req->status < 300) {
		MHD_destroy_response(req->response);
		req->response = NULL;
		api_reply_ctl(req, rc, err);
	}
	req->synced = true;
}

static void *sync_main(void *arg)
{
	api_sync_t *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stop || s->queue != NULL) {
		if (s->queue == NULL) {
			pthread_cond_wait(&s->wake, &s->lock);
			continue;
		}
		api_req_t *batch = s->queue;
		s->queue = NULL;
		pthread_mutex_unlock(&s->lock);
		ctl_error_t err = { 0 };
		int rc = ctl_sync(s->ctl, 0, &err);
		while (batch != NULL) {
			api_req_t *req = batch;
			batch = req->sync_next;
			settle(req, rc, &err);
			MHD_resume_connection(req->conn);
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int api_sync_start(ctl_t *ctl, api_sync_t **out)
{
	api_sync_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return CIRRUS_ENOMEM;
	}
	s->ctl = ctl;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	if (pthread_create(&s->thread, NULL, sync_main, s) != 0) {
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return CIRRUS_ENOMEM;
	}
	*out = s;
	return 0;
}

bool api_sync_defer(api_sync_t *s, api_req_t *req)
{
	if (req->synced || !ctl_sync_pending(s->ctl)) {
		return false;
	}
	pthread_mutex_lock(&s->lock);
	if (s->stop) {
		/* stopping: the thread may be gone, and a suspended connection
		 * must not outlive it; wait here */
		pthread_mutex_unlock(&s->lock);
		ctl_error_t err = { 0 };
		settle(req, ctl_sync(s->ctl, 0, &err), &err);
		return false;
	}
	/* Suspended before it is queued: the thread may resume it at once. */
	MHD_suspend_connection(req->conn);
	req->sync_next = s->queue;
	s->queue = req;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return true;
}

void api_sync_stop(api_sync_t *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);  /* after the queue's last resume */
}

void api_sync_free(api_sync_t *s)
{
	if (s == NULL) {
		return;
	}
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
