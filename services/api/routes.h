/*
 * routes.h: the route tables of every endpoint module (modules.def), and
 * the list the router walks. Include it in a module to have its table's
 * definition checked against the declaration.
 */
#ifndef HSI_API_ROUTES_H
#define HSI_API_ROUTES_H

#include "router.h"

#define HSI_MODULE(name) extern const hsi_route hsi_routes_##name[];
#include "modules.def"
#undef HSI_MODULE

/* Every module's table, in modules.def order, then NULL. */
extern const hsi_route *const hsi_route_tables[];

#endif
