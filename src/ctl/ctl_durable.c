/* SPDX-License-Identifier: Apache-2.0
 * ctl_durable.c -- group commit: a change is stored (committed to SQLite
 * without waiting for the disk) under the control plane's lock, and made
 * durable after the lock is released; changes stored while one sync is in
 * flight share the next one. The first waiter that finds no sync running
 * leads: it syncs the store (store_sync) for every change stored so far,
 * then serves their zone sets and wakes the others. So a change is neither
 * acknowledged nor served before it is durable, as with a sync per commit,
 * but changes no longer queue behind one another's sync on the lock, and
 * under load one sync covers several.
 *
 * Every stored version's set is served, oldest first: a superseded zone
 * version owns the nodes its successor replaced (zone_update.c), some of
 * which the version before it still reads, so versions must be freed in
 * the order they were made, which the data plane does for sets it serves.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_internal.h"
#include "util/error.h"
#include "util/grow.h"
#include "util/log.h"

void ctl_durable_init(ctl_durable_t *d)
{
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->done, NULL);
}

void ctl_durable_deinit(ctl_durable_t *d)
{
	for (size_t i = 0; i < d->pending_count; i++) {
		zone_set_free(d->pending[i].set);   /* oldest first */
	}
	free(d->pending);
	pthread_cond_destroy(&d->done);
	pthread_mutex_destroy(&d->lock);
}

/* Serve the pending sets of the changes up to upto, in order (d->lock held). */
static void serve_upto(ctl_t *ctl, uint64_t upto)
{
	ctl_durable_t *d = &ctl->durable;
	size_t n = 0;
	while (n < d->pending_count && d->pending[n].at <= upto) {
		ctl->publish(ctl->publish_ctx, d->pending[n++].set);
	}
	d->pending_count -= n;
	if (n > 0 && d->pending_count > 0) {
		memmove(d->pending, d->pending + n, d->pending_count * sizeof(*d->pending));
	}
}

/* Mark the changes up to upto synced (rc 0) or not, serve them, wake the
 * waiters (d->lock held). */
static void synced(ctl_t *ctl, uint64_t upto, int rc)
{
	ctl_durable_t *d = &ctl->durable;
	if (rc == 0) {
		d->durable = d->durable > upto ? d->durable : upto;
		serve_upto(ctl, upto);
	} else {
		d->failed = d->failed > upto ? d->failed : upto;
		log_error("ctl: the disk sync of the store failed: the changes since the last "
		          "sync are neither acknowledged nor served");
	}
	pthread_cond_broadcast(&d->done);
}

uint64_t ctl_durable_stored(ctl_t *ctl, zone_set_t *set)
{
	ctl_durable_t *d = &ctl->durable;
	pthread_mutex_lock(&d->lock);
	uint64_t ticket = ++d->stored;
	ctl_pending_t *grown = set == NULL ? d->pending :
		grow_one(d->pending, d->pending_count, &d->pending_alloc, sizeof(*grown), 8);
	if (grown != NULL) {
		d->pending = grown;
	}
	if (set != NULL && grown != NULL) {
		d->pending[d->pending_count++] = (ctl_pending_t){ .set = set, .at = ticket };
	} else if (set != NULL) {
		/* no room to queue it, and it may not be freed before the sets
		 * before it: sync here, under ctl->lock, and serve it at once
		 * (even should the sync fail: logged, better than a freed node) */
		pthread_mutex_unlock(&d->lock);
		int rc = store_sync(ctl->st);
		pthread_mutex_lock(&d->lock);
		synced(ctl, ticket - 1, rc);
		ctl->publish(ctl->publish_ctx, set);
		d->durable = rc == 0 ? ticket : d->durable;
	}
	pthread_mutex_unlock(&d->lock);
	return ticket;
}

int ctl_publish(ctl_t *ctl)
{
	ctl_durable_t *d = &ctl->durable;
	zone_set_t *set = NULL;
	int rc = ctl_zone_set(ctl, &set);
	if (rc != 0) {
		return rc;
	}
	/* ctl->lock is held: nothing is stored meanwhile, so after this sync
	 * every change stored is durable and the zones as they are can go out */
	pthread_mutex_lock(&d->lock);
	uint64_t upto = d->stored;
	bool sync = d->durable < upto;
	pthread_mutex_unlock(&d->lock);
	rc = sync ? store_sync(ctl->st) : 0;
	pthread_mutex_lock(&d->lock);
	synced(ctl, upto, rc);
	if (rc == 0) {
		ctl->publish(ctl->publish_ctx, set);
	} else {
		zone_set_free(set);   /* only references: its zones are ctl's current ones */
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int ctl_durable_wait(ctl_t *ctl, uint64_t ticket, ctl_error_t *err)
{
	ctl_durable_t *d = &ctl->durable;
	pthread_mutex_lock(&d->lock);
	while (d->durable < ticket && d->failed < ticket) {
		if (d->syncing) {
			pthread_cond_wait(&d->done, &d->lock);
			continue;
		}
		/* lead: one sync for every change stored so far */
		d->syncing = true;
		uint64_t upto = d->stored;
		pthread_mutex_unlock(&d->lock);
		int rc = store_sync(ctl->st);
		pthread_mutex_lock(&d->lock);
		d->syncing = false;
		synced(ctl, upto, rc);
	}
	bool ok = d->durable >= ticket;
	pthread_mutex_unlock(&d->lock);
	return ok ? 0 : ctl_fail(err, CIRRUS_EIO, 500, NULL, "stored, but the disk sync failed: "
	                         "the change may not survive a power loss and is not served");
}

int ctl_durable_finish(ctl_t *ctl, int rc, uint64_t ticket, ctl_error_t *err)
{
	int w = ctl_durable_wait(ctl, ticket, rc == 0 ? err : NULL);
	return rc != 0 ? rc : w;
}
