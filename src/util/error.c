/* SPDX-License-Identifier: Apache-2.0
 * error.c -- text for Cirrus error codes.
 */
#include "util/error.h"

const char *cirrus_strerror(int code)
{
	switch (code) {
	case CIRRUS_EOK:       return "success";
	case CIRRUS_ENOMEM:    return "out of memory";
	case CIRRUS_EINVAL:    return "invalid argument";
	case CIRRUS_EIO:       return "input/output error";
	case CIRRUS_ENOENT:    return "not found";
	case CIRRUS_EEXIST:    return "already exists";
	case CIRRUS_ESEMANTIC: return "semantic check failed";
	case CIRRUS_EPARSE:    return "parse error";
	case CIRRUS_ESPACE:    return "not enough space";
	case CIRRUS_ELIMIT:    return "limit reached";
	default:               return "unknown error";
	}
}
