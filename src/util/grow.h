/* SPDX-License-Identifier: Apache-2.0
 * grow.h -- room for one more item in an array that doubles as it fills.
 */
#pragma once

#include <stddef.h>
#include <stdlib.h>

/*!
 * \brief The array items (count used of *alloc) with room for one more:
 * items itself while there is room, else reallocated to twice *alloc
 * (first when empty), with *alloc updated.
 * \return the array to use from now on; NULL when out of memory, and then
 *         items and *alloc are unchanged.
 */
static inline void *grow_one(void *items, size_t count, size_t *alloc, size_t size,
                             size_t first)
{
	if (count < *alloc) {
		return items;
	}
	size_t more = *alloc ? *alloc * 2 : first;
	void *grown = realloc(items, more * size);
	if (grown != NULL) {
		*alloc = more;
	}
	return grown;
}
