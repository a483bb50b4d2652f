/* SPDX-License-Identifier: GPL-2.0 */
#include <linux/compiler.h>
#include <linux/export.h>

#define MODULE_LICENSE(__MODULE_LICENSE_value) \
	static __attribute__((unused)) const char *__MODULE_LICENSE_name = \
		__MODULE_LICENSE_value

#define MODULE_DESCRIPTION(__MODULE_DESCRIPTION_value) \
	static __maybe_unused const char *__MODULE_DESCRIPTION_name = \
		__MODULE_DESCRIPTION_value
