/* SPDX-License-Identifier: Apache-2.0
 * error.h -- Cirrus error codes and their text.
 * Functions return 0 or a negative CIRRUS_E* code; text appears only at a
 * boundary (log line, CLI, API) through cirrus_strerror().
 */
#pragma once

enum cirrus_error {
	CIRRUS_EOK = 0,
	CIRRUS_ENOMEM = -1,   /*!< allocation failed */
	CIRRUS_EINVAL = -2,   /*!< invalid argument or input */
	CIRRUS_EIO = -3,      /*!< I/O or system call failed (see errno) */
	CIRRUS_ENOENT = -4,   /*!< not found */
	CIRRUS_EEXIST = -5,   /*!< already exists */
	CIRRUS_ESEMANTIC = -6,/*!< zone failed semantic checks */
	CIRRUS_EPARSE = -7,   /*!< syntax error in a file */
	CIRRUS_ESPACE = -8,   /*!< does not fit in the buffer */
	CIRRUS_ELIMIT = -9,   /*!< a configured limit was reached */
};

/*! \brief Human-readable text for a CIRRUS_E* code (never NULL). */
const char *cirrus_strerror(int code);
