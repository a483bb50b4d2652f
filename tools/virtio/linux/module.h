/* SPDX-License-Identifier: GPL-2.0 */
#include <linux/export.h>

#define MODULE_LICENSE(__MODULE_LICENSE_value) \
	static __attribute__((unused)) const char *__MODULE_LICENSE_name = \
		__MODULE_LICENSE_value


/* Consumes the string; a module description means nothing here. */
#define MODULE_DESCRIPTION(description) _Static_assert(1, description)
