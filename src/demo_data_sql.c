/*
 * demo_data_sql.c — SQL wrappers around the pure demo generators
 * (src/demo_data.c): they write the generated users, devices, controls
 * (Immy.Bot baseline results and Microsoft Secure Score) and tickets
 * straight into etop's tables.
 *
 *   etop_internal.demo_load_users(client_ids, ords, n_users, domains, seed, as_of)
 *   etop_internal.demo_load_devices(client_ids, ords, n_devices, seed, as_of)
 *       -> (devices, controls)
 *   etop_internal.demo_load_tickets(client_ids, ords, n_users, seed, as_of)
 *
 * Each takes one array element per client (the client's id, its ordinal and
 * its size) and returns the number of rows it wrote.  Only etop.demo_seed()
 * calls them; nothing is granted on them.
 *
 * Rows are written client by client and, within a client, in the order of
 * their external ids (fixed-width numbers: USR-7-001, CFG-7-012, SSC-7-03),
 * so the tables' primary keys and their (client_id, source, external_id)
 * and (client_id, ...) indexes see their keys in order: demo_seed builds
 * those indexes after the load, and sorting presorted input costs little.
 *
 * Why not INSERT ... SELECT from a set-returning function: at 5,000 clients
 * the tickets alone are 5.4 million rows, and the executor's row-at-a-time
 * INSERT costs more than generating them.  The rows are written the way
 * COPY FROM writes them instead (table_multi_insert, 1,000 rows a call),
 * inside the caller's transaction, with everything COPY does: column
 * defaults (id, created_at), NOT NULL and CHECK constraints, index entries,
 * and triggers (the foreign-key checks among them, which demo_seed skips
 * with session_replication_role = replica as before).  Privileges are
 * checked; row-level security and BEFORE ROW triggers are refused rather
 * than bypassed.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/timestamp.h"

#include "etop/demo_data.h"

#define BW_BATCH 1000			/* rows per table_multi_insert(), as COPY */
#define DEMO_MAX_DOMAIN 100		/* bytes; fits DemoUser.email after the mailbox */
StaticAssertDecl(22 + DEMO_MAX_DOMAIN < sizeof(((DemoUser *) 0)->email),
				 "a demo e-mail address with the longest domain must fit DemoUser.email");

/* ---- a bulk writer: COPY FROM's insert path, fed from C ------------------------ */

/* a text value made once per writer for a generator's constant string (below) */
#define CONST_TEXT_SLOTS 512

typedef struct ConstText
{
	const char *key;
	int			len;
	Datum		value;
} ConstText;

typedef struct BulkWriter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TransitionCaptureState *transition;
	CommandId	cid;
	int			ti_options;
	BulkInsertState bistate;
	TupleTableSlot *slots[BW_BATCH];
	int			nused;
	TupleTableSlot *cur;		/* the row being filled */
	int			ncols;			/* the columns the caller fills ... */
	AttrNumber *colattno;		/* ... and their attribute numbers */
	int32	   *colmaxlen;		/* varchar(n): n, else -1 */
	int			ndefaults;		/* defaults for every other column */
	AttrNumber *defattno;
	ExprState **defexpr;
	int64		rows;
	ConstText  *consts;			/* CONST_TEXT_SLOTS, open addressing by pointer */
} BulkWriter;

static void
bw_open(BulkWriter *bw, const char *relname, const char *const *columns, int ncols)
{
	Oid			relid;
	Relation	rel;
	TupleDesc	desc;
	RangeTblEntry *rte;
	bool	   *given;
	MemoryContext oldcxt;

	memset(bw, 0, sizeof(*bw));
	relid = RangeVarGetRelid(makeRangeVar("etop", (char *) relname, -1), RowExclusiveLock, false);

	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("demo loader cannot write to etop.%s under row-level security", relname),
				 errhint("Call etop.demo_seed() as a role that bypasses row-level security.")));

	bw->estate = CreateExecutorState();
	oldcxt = MemoryContextSwitchTo(bw->estate->es_query_cxt);
	bw->consts = palloc0(sizeof(ConstText) * CONST_TEXT_SLOTS);

	/* the same range table entry an INSERT would have: INSERT privilege on the columns */
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = get_rel_relkind(relid);
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;

	rel = table_open(relid, NoLock);
	desc = RelationGetDescr(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("demo loader can only write to a plain table, not etop.%s", relname)));

	bw->ncols = ncols;
	bw->colattno = palloc(sizeof(AttrNumber) * ncols);
	bw->colmaxlen = palloc(sizeof(int32) * ncols);
	given = palloc0(sizeof(bool) * desc->natts);
	for (int i = 0; i < ncols; i++)
	{
		AttrNumber	attno = attnameAttNum(rel, columns[i], false);
		Form_pg_attribute att;

		if (attno <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of etop.%s does not exist", columns[i], relname)));
		att = TupleDescAttr(desc, attno - 1);
		bw->colattno[i] = attno;
		if (att->atttypid == BPCHAROID)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("demo loader does not fill char(n) columns (etop.%s.%s)", relname, columns[i])));
		bw->colmaxlen[i] = att->atttypid == VARCHAROID && att->atttypmod >= VARHDRSZ
			? att->atttypmod - VARHDRSZ : -1;
		given[attno - 1] = true;
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   attno - FirstLowInvalidHeapAttributeNumber);
	}
	table_close(rel, NoLock);

	ExecCheckRTPerms(list_make1(rte), true);
	ExecInitRangeTable(bw->estate, list_make1(rte));
	bw->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(bw->estate, bw->rri, 1);
	CheckValidResultRel(bw->rri, CMD_INSERT);
	ExecOpenIndices(bw->rri, false);
	bw->rel = bw->rri->ri_RelationDesc;

	if (bw->rri->ri_TrigDesc &&
		(bw->rri->ri_TrigDesc->trig_insert_before_row || bw->rri->ri_TrigDesc->trig_insert_instead_row))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("demo loader does not support BEFORE INSERT row triggers on etop.%s", relname)));

	/* every column the caller does not fill gets its default, as in INSERT */
	bw->defattno = palloc(sizeof(AttrNumber) * desc->natts);
	bw->defexpr = palloc(sizeof(ExprState *) * desc->natts);
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		Expr	   *def;

		if (att->attisdropped || att->attgenerated || given[a])
			continue;
		def = (Expr *) build_column_default(bw->rel, a + 1);
		if (def == NULL)
			continue;
		bw->defattno[bw->ndefaults] = a + 1;
		bw->defexpr[bw->ndefaults] = ExecInitExpr(expression_planner(def), NULL);
		bw->ndefaults++;
	}

	/* a table new in this transaction has no free space worth looking for (as COPY) */
	if (bw->rel->rd_createSubid != InvalidSubTransactionId ||
		bw->rel->rd_firstRelfilenodeSubid != InvalidSubTransactionId)
		bw->ti_options |= TABLE_INSERT_SKIP_FSM;
	bw->cid = GetCurrentCommandId(true);
	bw->bistate = GetBulkInsertState();
	for (int i = 0; i < BW_BATCH; i++)
		bw->slots[i] = table_slot_create(bw->rel, NULL);

	AfterTriggerBeginQuery();
	bw->transition = MakeTransitionCaptureState(bw->rel->trigdesc, relid, CMD_INSERT);
	ExecBSInsertTriggers(bw->estate, bw->rri);
	MemoryContextSwitchTo(oldcxt);
}

/* Writes the buffered rows: heap, then index entries and AFTER ROW triggers. */
static void
bw_flush(BulkWriter *bw)
{
	MemoryContext oldcxt;

	if (bw->nused == 0)
		return;
	oldcxt = MemoryContextSwitchTo(GetPerTupleMemoryContext(bw->estate));
	table_multi_insert(bw->rel, bw->slots, bw->nused, bw->cid, bw->ti_options, bw->bistate);
	MemoryContextSwitchTo(oldcxt);

	for (int i = 0; i < bw->nused; i++)
	{
		List	   *recheck = NIL;

		if (bw->rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(bw->rri, bw->slots[i], bw->estate, false, false, NULL, NIL);
		ExecARInsertTriggers(bw->estate, bw->rri, bw->slots[i], recheck, bw->transition);
		list_free(recheck);
		ExecClearTuple(bw->slots[i]);
	}
	bw->rows += bw->nused;
	bw->nused = 0;
	ResetPerTupleExprContext(bw->estate);
	CHECK_FOR_INTERRUPTS();
}

/*
 * Starts a row: every column NULL except the defaults.  The caller sets
 * columns with bw_set*() (values may live in the per-row memory context,
 * which is current until bw_end_row()).
 */
static TupleTableSlot *
bw_begin_row(BulkWriter *bw)
{
	TupleTableSlot *slot = bw->slots[bw->nused];
	ExprContext *econtext = GetPerTupleExprContext(bw->estate);
	int			natts = slot->tts_tupleDescriptor->natts;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * natts);
	MemoryContextSwitchTo(GetPerTupleMemoryContext(bw->estate));
	for (int i = 0; i < bw->ndefaults; i++)
	{
		AttrNumber	a = bw->defattno[i];

		slot->tts_values[a - 1] = ExecEvalExpr(bw->defexpr[i], econtext, &slot->tts_isnull[a - 1]);
	}
	bw->cur = slot;
	return slot;
}

static inline void
bw_set(BulkWriter *bw, int col, Datum value)
{
	AttrNumber	a = bw->colattno[col];

	bw->cur->tts_values[a - 1] = value;
	bw->cur->tts_isnull[a - 1] = false;
}

static inline void
bw_set_null(BulkWriter *bw, int col)
{
	bw->cur->tts_isnull[bw->colattno[col] - 1] = true;
}

/* Text or varchar from a C string, with the length check a cast would make. */
static void
bw_set_text(BulkWriter *bw, int col, const char *s)
{
	int			len = (int) strlen(s);
	int32		maxlen = bw->colmaxlen[col];

	if (maxlen >= 0 && len > maxlen && pg_mbstrlen_with_len(s, len) > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("value too long for type character varying(%d)", maxlen)));
	bw_set(bw, col, PointerGetDatum(cstring_to_text_with_len(s, len)));
}

/*
 * The generators return most strings as pointers to their constant tables
 * ("Closed", "Password Reset"): their text values are made once per writer
 * (in its executor state's memory, bw->consts) and shared by every row (the
 * tuple copies them).
 */
static void
bw_set_const_text(BulkWriter *bw, int col, const char *s)
{
	uint32		h = (uint32) (((uintptr_t) s >> 3) * 2654435761u) % CONST_TEXT_SLOTS;
	int32		maxlen = bw->colmaxlen[col];

	for (int probe = 0; probe < CONST_TEXT_SLOTS; probe++, h = (h + 1) % CONST_TEXT_SLOTS)
	{
		ConstText  *ct = &bw->consts[h];

		if (ct->key == NULL)
		{
			ct->key = s;
			ct->len = (int) strlen(s);
			ct->value = PointerGetDatum(MemoryContextAlloc(bw->estate->es_query_cxt, VARHDRSZ + ct->len));
			SET_VARSIZE(DatumGetPointer(ct->value), VARHDRSZ + ct->len);
			memcpy(VARDATA(DatumGetPointer(ct->value)), s, ct->len);
		}
		if (ct->key == s)
		{
			if (maxlen >= 0 && ct->len > maxlen && pg_mbstrlen_with_len(s, ct->len) > maxlen)
				ereport(ERROR,
						(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
						 errmsg("value too long for type character varying(%d)", maxlen)));
			bw_set(bw, col, ct->value);
			return;
		}
	}
	bw_set_text(bw, col, s);	/* table full: not reached with the generators' tables */
}

/* "<prefix><a>-<b>" with b zero-padded to width digits (CFG-12-007), without snprintf */
static void
bw_set_ext_id(BulkWriter *bw, int col, const char *prefix, int32 a, int32 b, int width)
{
	char		buf[64];
	char		digits[16];
	int			len = (int) strlen(prefix);
	int			nd;

	memcpy(buf, prefix, len);
	len += pg_ltoa(a, buf + len);
	buf[len++] = '-';
	nd = pg_ltoa(b, digits);
	for (; width > nd; width--)
		buf[len++] = '0';
	memcpy(buf + len, digits, nd);
	len += nd;
	buf[len] = '\0';
	bw_set_text(bw, col, buf);
}

/* Finishes the row: constraints, then into the batch. */
static void
bw_end_row(BulkWriter *bw, MemoryContext callercxt)
{
	TupleTableSlot *slot = bw->cur;

	ExecStoreVirtualTuple(slot);
	slot->tts_tableOid = RelationGetRelid(bw->rel);
	if (bw->rel->rd_att->constr)
	{
		if (bw->rel->rd_att->constr->has_generated_stored)
			ExecComputeStoredGenerated(bw->rri, bw->estate, slot, CMD_INSERT);
		ExecConstraints(bw->rri, slot, bw->estate);
	}
	ExecMaterializeSlot(slot);
	MemoryContextSwitchTo(callercxt);
	bw->cur = NULL;
	if (++bw->nused == BW_BATCH)
		bw_flush(bw);
	else
		ResetPerTupleExprContext(bw->estate);
}

static int64
bw_close(BulkWriter *bw)
{
	bw_flush(bw);
	ExecASInsertTriggers(bw->estate, bw->rri, bw->transition);
	AfterTriggerEndQuery(bw->estate);
	for (int i = 0; i < BW_BATCH; i++)
		ExecDropSingleTupleTableSlot(bw->slots[i]);
	FreeBulkInsertState(bw->bistate);
	table_finish_bulk_insert(bw->rel, bw->ti_options);
	/* the slots AFTER ROW triggers made (foreign keys): as ExecEndPlan() */
	ExecResetTupleTable(bw->estate->es_tupleTable, false);
	ExecCloseResultRelations(bw->estate);
	ExecCloseRangeTableRelations(bw->estate);
	FreeExecutorState(bw->estate);
	return bw->rows;
}

/* ---- values ----------------------------------------------------------------------- */

/*
 * Local wall-clock time -> timestamptz in the session's time zone, as a cast
 * from timestamp does, with the zone offset cached per day: a day whose
 * offset is the same at 00:00 and at 23:59:59 has one offset throughout.
 */
typedef struct TzCache
{
	DemoDate	first;
	int			ndays;
	int64	   *offset;			/* usecs to add; PG_INT64_MIN = not cached */
} TzCache;

static void
tz_init(TzCache *tc, DemoDate first, DemoDate last)
{
	tc->first = first;
	tc->ndays = last - first + 1;
	tc->offset = palloc(sizeof(int64) * tc->ndays);
	for (int i = 0; i < tc->ndays; i++)
	{
		Timestamp	t0 = (Timestamp) (first + i) * USECS_PER_DAY;
		Timestamp	t1 = t0 + USECS_PER_DAY - USECS_PER_SEC;
		int64		o0 = timestamp2timestamptz_opt_overflow(t0, NULL) - t0;
		int64		o1 = timestamp2timestamptz_opt_overflow(t1, NULL) - t1;

		tc->offset[i] = o0 == o1 ? o0 : PG_INT64_MIN;
	}
}

static Datum
tz_local(const TzCache *tc, DemoTime t)
{
	int64		day = demo_date_of(t) - (int64) tc->first;

	if (day >= 0 && day < tc->ndays && tc->offset[day] != PG_INT64_MIN)
		return TimestampTzGetDatum(t + tc->offset[day]);
	return TimestampTzGetDatum(timestamp2timestamptz_opt_overflow((Timestamp) t, NULL));
}

/* jsonb {"k1": "v1", "k2": "v2", "k3": n}, built without parsing text */
static void
jsonb_push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = (int) strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

static Datum
jsonb_3(const char *k1, const char *v1, const char *k2, const char *v2, const char *k3, int64 n3)
{
	JsonbParseState *st = NULL;
	JsonbValue	v;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_key(&st, k1);
	v.type = jbvString;
	v.val.string.val = (char *) v1;
	v.val.string.len = (int) strlen(v1);
	pushJsonbValue(&st, WJB_VALUE, &v);
	jsonb_push_key(&st, k2);
	v.val.string.val = (char *) v2;
	v.val.string.len = (int) strlen(v2);
	pushJsonbValue(&st, WJB_VALUE, &v);
	jsonb_push_key(&st, k3);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n3);
	pushJsonbValue(&st, WJB_VALUE, &v);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/* jsonb {"score": n, "maxScore": m, "category": "..."} */
static Datum
jsonb_score(int64 score, int64 max_score, const char *category)
{
	JsonbParseState *st = NULL;
	JsonbValue	v;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_key(&st, "score");
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(score);
	pushJsonbValue(&st, WJB_VALUE, &v);
	jsonb_push_key(&st, "maxScore");
	v.val.numeric = int64_to_numeric(max_score);
	pushJsonbValue(&st, WJB_VALUE, &v);
	jsonb_push_key(&st, "category");
	v.type = jbvString;
	v.val.string.val = (char *) category;
	v.val.string.len = (int) strlen(category);
	pushJsonbValue(&st, WJB_VALUE, &v);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/* ---- arguments ---------------------------------------------------------------------- */

typedef struct ClientArgs
{
	int			n;
	int32	   *client_id;
	int32	   *ord;
	int32	   *size;			/* users or devices */
	char	  **domain;			/* users only */
	uint32		seed;
	DateADT		as_of;
} ClientArgs;

static int32 *
int_array(ArrayType *a, const char *what, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int32	   *out;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(a, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(int32) * (*n + 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not contain NULL", what)));
		out[i] = DatumGetInt32(elems[i]);
	}
	return out;
}

static void
client_args(FunctionCallInfo fcinfo, ClientArgs *ca, bool with_domains, int size_max)
{
	int			n1,
				n2,
				n3;
	int			argno = with_domains ? 4 : 3;

	ca->client_id = int_array(PG_GETARG_ARRAYTYPE_P(0), "client_ids", &n1);
	ca->ord = int_array(PG_GETARG_ARRAYTYPE_P(1), "ords", &n2);
	ca->size = int_array(PG_GETARG_ARRAYTYPE_P(2), "sizes", &n3);
	if (n1 != n2 || n1 != n3)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("demo loader: arrays of different lengths")));
	ca->n = n1;
	for (int i = 0; i < ca->n; i++)
		if (ca->ord[i] < 1 || ca->size[i] < 1 || ca->size[i] > size_max)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("demo loader: client %d has ordinal %d and size %d (1 to %d allowed)",
							ca->client_id[i], ca->ord[i], ca->size[i], size_max)));
	ca->domain = NULL;
	if (with_domains)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n4;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n4);
		if (n4 != ca->n)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("demo loader: arrays of different lengths")));
		ca->domain = palloc(sizeof(char *) * (ca->n + 1));
		for (int i = 0; i < ca->n; i++)
		{
			ca->domain[i] = nulls[i] ? "example.com" : TextDatumGetCString(elems[i]);

			/*
			 * demo_users() writes "mailbox@domain" into a fixed buffer and
			 * cuts what does not fit, possibly inside a multibyte character
			 * (which would store invalid text).  The longest mailbox is 22
			 * bytes with its '@'.
			 */
			if (strlen(ca->domain[i]) > DEMO_MAX_DOMAIN)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("demo loader: the e-mail domain of client %d is longer than %d bytes",
								ca->client_id[i], DEMO_MAX_DOMAIN)));
		}
	}
	ca->seed = (uint32) PG_GETARG_INT32(argno);
	ca->as_of = PG_GETARG_DATEADT(argno + 1);
	if (DATE_NOT_FINITE(ca->as_of) ||
		ca->as_of < date2j(1970, 1, 1) - POSTGRES_EPOCH_JDATE ||
		ca->as_of > date2j(2199, 12, 31) - POSTGRES_EPOCH_JDATE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("demo loader: as_of must be between 1970-01-01 and 2199-12-31")));
}

static DemoClient
demo_client(const ClientArgs *ca, int i)
{
	DemoClient	c;

	c.ord = ca->ord[i];
	c.n_users = ca->size[i];
	c.n_devices = ca->size[i];
	c.domain = ca->domain ? ca->domain[i] : NULL;
	return c;
}

/* ---- users ------------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(etop_demo_load_users);

Datum
etop_demo_load_users(PG_FUNCTION_ARGS)
{
	static const char *const cols[] = {
		"client_id", "source", "external_id", "display_name", "email", "upn",
		"account_enabled", "mfa_enabled", "risk_level", "last_sign_in"
	};
	MemoryContext cxt = CurrentMemoryContext;
	ClientArgs	ca;
	BulkWriter	bw;
	TzCache		tz;
	DemoUser   *users = palloc(sizeof(DemoUser) * DEMO_MAX_USERS);

	client_args(fcinfo, &ca, true, DEMO_MAX_USERS);
	tz_init(&tz, ca.as_of - 200, ca.as_of + 1);
	bw_open(&bw, "users", cols, lengthof(cols));
	for (int i = 0; i < ca.n; i++)
	{
		DemoClient	c = demo_client(&ca, i);
		int			n = demo_users(&c, ca.seed, ca.as_of, users);

		for (int u = 0; u < n; u++)
		{
			const DemoUser *o = &users[u];

			bw_begin_row(&bw);
			bw_set(&bw, 0, Int32GetDatum(ca.client_id[i]));
			bw_set_const_text(&bw, 1, "demo");
			bw_set_ext_id(&bw, 2, "USR-", c.ord, o->ordinal, 3);
			bw_set_text(&bw, 3, o->display_name);
			bw_set_text(&bw, 4, o->email);
			bw_set_text(&bw, 5, o->email);
			bw_set(&bw, 6, BoolGetDatum(o->account_enabled));
			bw_set(&bw, 7, BoolGetDatum(o->mfa_enabled));
			bw_set_const_text(&bw, 8, o->risk_level);
			bw_set(&bw, 9, tz_local(&tz, o->last_sign_in));
			bw_end_row(&bw, cxt);
		}
	}
	PG_RETURN_INT64(bw_close(&bw));
}

/* ---- devices and their Immy.Bot baseline results --------------------------------------- */

PG_FUNCTION_INFO_V1(etop_demo_load_devices);

Datum
etop_demo_load_devices(PG_FUNCTION_ARGS)
{
	static const char *const dcols[] = {
		"client_id", "source", "external_id", "name", "type", "os", "managed", "health_status",
		"last_seen", "serial_number", "manufacturer", "model", "purchase_date", "warranty_expires",
		"last_patched_at", "edr_installed", "edr_healthy"
	};
	static const char *const ccols[] = {
		"client_id", "device_id", "source", "external_id", "control_type", "title", "status",
		"evidence", "last_checked"
	};
	MemoryContext cxt = CurrentMemoryContext;
	ClientArgs	ca;
	BulkWriter	bw;
	TzCache		tz;
	AttrNumber	id_attno;
	DemoDevice *devices = palloc(sizeof(DemoDevice) * DEMO_MAX_DEVICES);
	Datum	   *ids;
	int64		total = 0;
	int64		k;
	int64		controls;
	DemoSecureScore scores[DEMO_SECURE_SCORE_CONTROLS];
	Datum		checked;
	TupleDesc	tupdesc;
	Datum		result[2];
	bool		result_nulls[2] = {false, false};

	client_args(fcinfo, &ca, false, DEMO_MAX_DEVICES);
	for (int i = 0; i < ca.n; i++)
		total += ca.size[i];
	ids = palloc(sizeof(Datum) * (total + 1));
	tz_init(&tz, ca.as_of - 130, ca.as_of + 1);
	/* Secure Score was read six hours before as_of */
	checked = tz_local(&tz, (DemoTime) ca.as_of * DEMO_USECS_PER_DAY - 6 * DEMO_USECS_PER_HOUR);

	/* the devices; each one's id comes from the column default (nextval) */
	bw_open(&bw, "devices", dcols, lengthof(dcols));
	id_attno = attnameAttNum(bw.rel, "id", false);
	k = 0;
	for (int i = 0; i < ca.n; i++)
	{
		DemoClient	c = demo_client(&ca, i);
		int			n = demo_devices(&c, ca.seed, ca.as_of, devices);

		for (int d = 0; d < n; d++)
		{
			const DemoDevice *o = &devices[d];
			TupleTableSlot *slot = bw_begin_row(&bw);

			if (id_attno <= 0 || slot->tts_isnull[id_attno - 1])
				elog(ERROR, "etop.devices.id has no default");
			ids[k++] = slot->tts_values[id_attno - 1];
			bw_set(&bw, 0, Int32GetDatum(ca.client_id[i]));
			bw_set_const_text(&bw, 1, "demo");
			bw_set_ext_id(&bw, 2, "CFG-", c.ord, o->ordinal, 3);
			bw_set_text(&bw, 3, o->name);
			bw_set_const_text(&bw, 4, o->type);
			bw_set_const_text(&bw, 5, o->os);
			bw_set(&bw, 6, BoolGetDatum(o->managed));
			bw_set_const_text(&bw, 7, o->health_status);
			bw_set(&bw, 8, tz_local(&tz, o->last_seen));
			bw_set_text(&bw, 9, o->serial_number);
			bw_set_const_text(&bw, 10, o->manufacturer);
			bw_set_const_text(&bw, 11, o->model);
			bw_set(&bw, 12, DateADTGetDatum(o->purchase_date));
			bw_set(&bw, 13, DateADTGetDatum(o->warranty_expires));
			if (o->has_last_patched)
				bw_set(&bw, 14, tz_local(&tz, o->last_patched_at));
			else
				bw_set_null(&bw, 14);
			bw_set(&bw, 15, BoolGetDatum(o->edr_installed));
			bw_set(&bw, 16, BoolGetDatum(o->edr_healthy));
			bw_end_row(&bw, cxt);
		}
	}
	bw_close(&bw);

	/*
	 * Controls, client by client: one Immy.Bot baseline result per managed
	 * device (generated again: the same devices), then the tenant's Secure
	 * Score controls.
	 */
	bw_open(&bw, "controls", ccols, lengthof(ccols));
	k = 0;
	for (int i = 0; i < ca.n; i++)
	{
		DemoClient	c = demo_client(&ca, i);
		int			n = demo_devices(&c, ca.seed, ca.as_of, devices);

		for (int d = 0; d < n; d++, k++)
		{
			const DemoDevice *o = &devices[d];

			if (!o->baseline_status)
				continue;
			bw_begin_row(&bw);
			bw_set(&bw, 0, Int32GetDatum(ca.client_id[i]));
			bw_set(&bw, 1, ids[k]);
			bw_set_const_text(&bw, 2, "demo");
			bw_set_ext_id(&bw, 3, "IMMY-CFG-", c.ord, o->ordinal, 3);
			bw_set_const_text(&bw, 4, "immy_baseline");
			bw_set_const_text(&bw, 5, o->baseline_title);
			bw_set_const_text(&bw, 6, o->baseline_status);
			bw_set(&bw, 7, jsonb_3("baseline", o->baseline_title, "device", o->name,
								   "drift_items", o->baseline_drift_items));
			bw_set(&bw, 8, tz_local(&tz, o->baseline_checked));
			bw_end_row(&bw, cxt);
		}

		/* the tenant's Microsoft Secure Score controls */
		demo_secure_score(&c, ca.seed, scores);
		for (int j = 0; j < DEMO_SECURE_SCORE_CONTROLS; j++)
		{
			const DemoSecureScore *o = &scores[j];

			bw_begin_row(&bw);
			bw_set(&bw, 0, Int32GetDatum(ca.client_id[i]));
			bw_set_null(&bw, 1);
			bw_set_const_text(&bw, 2, "demo");
			bw_set_ext_id(&bw, 3, "SSC-", c.ord, o->n, 2);
			bw_set_const_text(&bw, 4, "m365_secure_score");
			bw_set_const_text(&bw, 5, o->title);
			bw_set_const_text(&bw, 6, o->status);
			bw_set(&bw, 7, jsonb_score(o->score, o->max_score, o->category));
			bw_set(&bw, 8, checked);
			bw_end_row(&bw, cxt);
		}
	}
	controls = bw_close(&bw);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "etop_internal.demo_load_devices must return (devices bigint, controls bigint)");
	tupdesc = BlessTupleDesc(tupdesc);
	result[0] = Int64GetDatum(k);
	result[1] = Int64GetDatum(controls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, result_nulls)));
}

/* ---- tickets ----------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(etop_demo_load_tickets);

Datum
etop_demo_load_tickets(PG_FUNCTION_ARGS)
{
	static const char *const cols[] = {
		"client_id", "source", "external_id", "summary", "category", "priority", "status",
		"hours_spent", "sla_met", "reopen_count", "csat_score", "after_hours", "created_date",
		"closed_date"
	};
	MemoryContext cxt = CurrentMemoryContext;
	ClientArgs	ca;
	BulkWriter	bw;
	TzCache		tz;
	DemoTicket *tickets = palloc(sizeof(DemoTicket) * DEMO_MAX_TICKETS);
	Datum		hours[1000];	/* numeric(7,2) hours spent, by hundredths */
	char		ext[32];

	client_args(fcinfo, &ca, false, DEMO_MAX_USERS);
	tz_init(&tz, ca.as_of - 740, ca.as_of + 10);
	for (int h = 0; h < lengthof(hours); h++)
		hours[h] = NumericGetDatum(int64_div_fast_to_numeric(h, 2));
	bw_open(&bw, "tickets", cols, lengthof(cols));
	for (int i = 0; i < ca.n; i++)
	{
		DemoClient	c = demo_client(&ca, i);
		int			n = demo_tickets(&c, ca.seed, ca.as_of, tickets);

		for (int t = 0; t < n; t++)
		{
			const DemoTicket *o = &tickets[t];

			bw_begin_row(&bw);
			bw_set(&bw, 0, Int32GetDatum(ca.client_id[i]));
			bw_set_const_text(&bw, 1, "demo");
			ext[pg_lltoa(o->number, ext)] = '\0';
			bw_set_text(&bw, 2, ext);
			bw_set_const_text(&bw, 3, o->summary);
			bw_set_const_text(&bw, 4, o->category);
			bw_set_const_text(&bw, 5, o->priority);
			bw_set_const_text(&bw, 6, o->status);
			if (o->hours_cents >= 0 && o->hours_cents < lengthof(hours))
				bw_set(&bw, 7, hours[o->hours_cents]);
			else
				bw_set(&bw, 7, NumericGetDatum(int64_div_fast_to_numeric(o->hours_cents, 2)));
			bw_set(&bw, 8, BoolGetDatum(o->sla_met));
			bw_set(&bw, 9, Int32GetDatum(o->reopen_count));
			if (o->csat_score > 0)
				bw_set(&bw, 10, Int32GetDatum(o->csat_score));
			else
				bw_set_null(&bw, 10);
			bw_set(&bw, 11, BoolGetDatum(o->after_hours));
			bw_set(&bw, 12, tz_local(&tz, o->created));
			if (o->closed)
				bw_set(&bw, 13, tz_local(&tz, o->closed_at));
			else
				bw_set_null(&bw, 13);
			bw_end_row(&bw, cxt);
		}
	}
	PG_RETURN_INT64(bw_close(&bw));
}
