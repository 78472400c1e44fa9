/*
 * routes.c: the list of route tables (see routes.h, modules.def).
 */
#include "routes.h"

#define HSI_MODULE(name) hsi_routes_##name,
const hsi_route *const hsi_route_tables[] = {
#include "modules.def"
	NULL,
};
#undef HSI_MODULE
