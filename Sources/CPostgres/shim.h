// libpq, Debian's libpq-dev (the PostgreSQL sink only: no receiver links it).
#include <postgresql/libpq-fe.h>
