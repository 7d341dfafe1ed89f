"""The HTTP API. Route modules register on ``api.routes.API`` when imported; importing the route
package here makes the route table (router and OpenAPI document) complete whichever module is
imported first."""

from api import routes as routes
