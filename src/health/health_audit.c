/* SPDX-License-Identifier: Apache-2.0
 * health_audit.c -- one audit row per health transition or drill, through
 * the control plane's store lock like every other writer of the store.
 */
#include "ctl/ctl.h"
#include "health/health.h"
#include "store/store.h"
#include "util/log.h"

void health_audit_ctl(void *ctx, const char *actor, const char *action,
                      const char *before, const char *after)
{
	ctl_t *ctl = ctx;
	store_audit_t row = { .actor = actor, .action = action, .before = before,
	                      .after = after };
	store_t *st = ctl_store_lock(ctl);
	int r = store_audit_append(st, &row);
	const char *why = r != 0 ? store_last_error(st) : "";
	if (r != 0) {
		log_error("health: audit row %s not written: %s", action, why);
	}
	ctl_store_unlock(ctl);
}
