/*
 * service.c - the table of built-in services.
 */
#include "autoconf.h"

#include <string.h>

#include "service.h"

static const struct service *const services[] = {
	&service_greeting,
	&service_echo,
	NULL
};

const struct service *
service_find(const char *name)
{
	for (size_t i = 0; services[i] != NULL; i++)
		if (strcmp(services[i]->sv_name, name) == 0)
			return services[i];
	return NULL;
}

const char *
service_names(void)
{
	static char	 names[128];

	if (names[0] == '\0')
		for (size_t i = 0; services[i] != NULL; i++) {
			if (i > 0)
				strcat(names, ", ");
			strcat(names, services[i]->sv_name);
		}
	return names;
}
