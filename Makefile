# PGXS build for etop (see docs/operations.md).
#   make                      build etop.so and the install script
#   make install              install into the server found by pg_config
#   make installcheck         pg_regress tests (sql/*.sql vs expected/*.out)
#   make COPT=-Werror         warnings as errors (CI does this)

EXTENSION   = etop
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big  = etop
# Every C file under src/ and adapters/ is part of the module; pure-logic files
# are also compiled into the unit tests (tests/unit/).
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c adapters/*.c)))

# The install script of the current version is assembled from the ordered
# pieces in sql/install/.  Released versions are frozen in sql/upgrade/: the
# install script of each (etop--0.1.0.sql) and the upgrade scripts between
# them (etop--0.1.0--0.2.0.sql), so ALTER EXTENSION etop UPDATE works from
# every released version (tests/integration/upgrade.sh).
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(sort $(wildcard sql/upgrade/$(EXTENSION)--*.sql))

# The version is written in one place, etop.control; C sees it as ETOP_VERSION.
PG_CPPFLAGS = -I$(CURDIR)/include -DETOP_VERSION='"$(EXTVERSION)"'
SHLIB_LINK += -lcurl -lhpdf -lm
# qbr_logo.c decodes logos with libpng before libharu sees them (see there why).
SHLIB_LINK += -lpng

# pg_regress tests: every sql/NN_name.sql, run in name order.
REGRESS      = $(sort $(basename $(notdir $(wildcard sql/[0-9]*.sql))))
REGRESS_OPTS = --inputdir=.

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

.PHONY: unit
unit:
	$(MAKE) -C tests/unit PG_CONFIG=$(PG_CONFIG)

# PGXS does not track header dependencies: rebuild every object when one of
# etop's headers changes (a struct that changes size would otherwise leave
# objects built against the old layout).
$(OBJS): $(wildcard include/etop/*.h) $(EXTENSION).control
