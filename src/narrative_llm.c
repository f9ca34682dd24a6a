/*
 * narrative_llm.c — the "openai" narrative provider.
 *
 * Sends etop.narrative_input() as the PROVIDED DATA of a chat-completions
 * request (JSON mode) to etop.llm_base_url with etop.llm_model, authenticated
 * with etop.llm_api_key, through the shared HTTP client: etop.llm_timeout per
 * request, 3 retries with exponential backoff honouring Retry-After.  Only
 * that client's data is in the prompt.  The reply must be a JSON object; the
 * QBR worker then validates its citations like any other narrative.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "etop/etop.h"
#include "etop/http_client.h"
#include "etop/json_util.h"
#include "etop/llm.h"

const char *etop_llm_system_prompt =
"You are an Account Manager at a managed IT service provider writing a quarterly business "
"review for a client's executives.\n"
"STRICT RULES:\n"
"1. Only use facts from the PROVIDED DATA. Never invent ticket IDs, device names, policy names, "
"risk titles or metrics.\n"
"2. Every claim must cite evidence in exactly one of these forms: [Ticket #12345], "
"[Device: WS-ACCT-01], [Policy: MFA Enforcement], [Risk: Unpatched Exchange Server], using ticket "
"numbers, device names, policy titles and risk titles exactly as they appear in the PROVIDED DATA.\n"
"3. Write in plain English for a non-technical executive audience.\n"
"4. Focus on business outcomes (user productivity, risk reduction, cost avoidance), not technical details.\n"
"Answer with one JSON object with these keys: \"executive_summary\" (three paragraphs separated by "
"blank lines: overall health referencing the three scores; the biggest win with evidence; the top "
"priority for next quarter with business justification), \"trends\" (quarter-over-quarter analysis), "
"\"recommendations\" (3 to 7 objects with \"title\", \"description\", \"priority\" (high|medium|low), "
"\"effort\" (low|medium|high), \"cost_range\" (like \"$1-5K\") and \"evidence\" (an array of at least "
"one citation)), \"discussion_points\" (3 to 5 strings) and \"wins\" (up to 5 strings with citations).";

/* ---------- reading the reply ---------- */

/* Parse the API reply; sets *content to the assistant's text and *usage. */
static char *
parse_reply(const char *body, char **content, char **usage)
{
	Jsonb	   *reply;
	JsonbValue *choices,
			   *msg,
			   *text,
			   *u;
	JsonbValue *first;
	char	   *why;

	reply = etop_jsonb_parse(body, &why);
	if (reply == NULL)
		return psprintf("OpenAI API returned invalid JSON: %s", why);
	choices = etop_jsonb_key(&reply->root, "choices");
	/* getIthJsonbValueFromContainer() raises an error on an object: check first */
	if (choices == NULL || choices->type != jbvBinary ||
		!JsonContainerIsArray(choices->val.binary.data) ||
		JsonContainerSize(choices->val.binary.data) == 0)
		return "OpenAI API returned no choices";
	first = getIthJsonbValueFromContainer(choices->val.binary.data, 0);
	msg = first && first->type == jbvBinary ? etop_jsonb_key(first->val.binary.data, "message") : NULL;
	text = msg && msg->type == jbvBinary ? etop_jsonb_key(msg->val.binary.data, "content") : NULL;
	if (text == NULL || text->type != jbvString)
		return "OpenAI API returned no message content";
	*content = pnstrdup(text->val.string.val, text->val.string.len);
	u = etop_jsonb_key(&reply->root, "usage");
	*usage = (u && u->type == jbvBinary) ? JsonbToCString(NULL, u->val.binary.data, -1) : NULL;
	return NULL;
}

/* "```json\n{...}\n```" -> "{...}"; anything else unchanged. */
static char *
strip_fence(char *s)
{
	char	   *start = s,
			   *end;

	while (*start == ' ' || *start == '\n' || *start == '\r' || *start == '\t')
		start++;
	if (strncmp(start, "```", 3) != 0)
		return s;
	start = strchr(start, '\n');
	if (start == NULL)
		return s;
	end = strstr(start, "```");
	if (end == NULL)
		return s;
	return pnstrdup(start + 1, end - start - 1);
}

EtopLlmResult
etop_llm_narrative(const char *input_json)
{
	EtopLlmResult res = {false, NULL, NULL, NULL};
	MemoryContext cxt = CurrentMemoryContext;

	if (etop_llm_api_key == NULL || etop_llm_api_key[0] == '\0')
	{
		res.error = pstrdup("OpenAI API key is not set: set etop.llm_api_key (superuser) or use "
							"etop.narrative_provider = 'offline'");
		return res;
	}

	{
		StringInfoData body,
					url,
					user;
		etop_http_request req;
		etop_http_response resp;
		etop_http_allocator alloc = {etop_context_alloc, etop_context_free, cxt};
		const char *headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
		etop_http_error err;

		initStringInfo(&user);
		appendStringInfoString(&user, "PROVIDED DATA:\n");
		appendStringInfoString(&user, input_json);
		appendStringInfoString(&user, "\n\nWrite the QBR narrative now, as the JSON object described.");

		initStringInfo(&body);
		appendStringInfoString(&body, "{\"model\": ");
		escape_json(&body, etop_llm_model);
		appendStringInfoString(&body, ", \"response_format\": {\"type\": \"json_object\"}, "
							   "\"temperature\": 0.2, \"messages\": [{\"role\": \"system\", \"content\": ");
		escape_json(&body, etop_llm_system_prompt);
		appendStringInfoString(&body, "}, {\"role\": \"user\", \"content\": ");
		escape_json(&body, user.data);
		appendStringInfoString(&body, "}]}");

		initStringInfo(&url);
		appendStringInfoString(&url, etop_llm_base_url);
		while (url.len > 0 && url.data[url.len - 1] == '/')
			url.data[--url.len] = '\0';
		appendStringInfoString(&url, "/chat/completions");

		etop_http_request_init(&req);
		req.method = "POST";
		req.url = url.data;
		req.headers = headers;
		req.body = body.data;
		req.body_len = body.len;
		req.bearer_token = etop_llm_api_key;
		req.timeout_ms = etop_llm_timeout * 1000L;
		req.connect_timeout_ms = Min(10000L, etop_llm_timeout * 1000L);
		req.max_attempts = 4;	/* the first try and 3 retries */
		req.retry_base_ms = 1000;
		req.max_response_bytes = 8 * 1024 * 1024;
		req.allocator = &alloc;
		req.abort_cb = etop_interrupt_pending;
		req.sleep_cb = etop_latch_sleep;

		err = etop_http_perform(NULL, &req, &resp);
		if (err == ETOP_HTTP_OK)
		{
			char	   *content = NULL,
					   *usage = NULL;
			char	   *why = parse_reply(resp.body, &content, &usage);

			if (why)
				res.error = pstrdup(why);
			else
			{
				Jsonb	   *n;
				char	   *bad;

				/* some models wrap JSON in a ```json fence despite JSON mode */
				content = strip_fence(content);
				n = etop_jsonb_parse(content, &bad);

				if (n == NULL)
					res.error = psprintf("OpenAI API returned invalid JSON: %s", bad);
				else if (!JB_ROOT_IS_OBJECT(n))
					res.error = pstrdup("OpenAI API returned JSON that is not an object");
				else
				{
					res.ok = true;
					res.narrative = content;
					res.usage = usage;
				}
			}
		}
		else if (err == ETOP_HTTP_TIMEOUT)
			res.error = psprintf("OpenAI API timeout after %d retries", Max(resp.attempts - 1, 0));
		else if (err == ETOP_HTTP_4XX && (resp.status == 401 || resp.status == 403))
			res.error = psprintf("OpenAI API authentication failed (HTTP %ld): check etop.llm_api_key",
								 resp.status);
		else if (err == ETOP_HTTP_4XX && resp.status == 429)
			res.error = psprintf("OpenAI API rate limit exceeded after %d retries (retry after %ld s)",
								 Max(resp.attempts - 1, 0), resp.retry_after_s);
		else if (err == ETOP_HTTP_ABORTED)
			res.error = pstrdup("OpenAI API request aborted: the worker is shutting down");
		else
			res.error = psprintf("OpenAI API error after %d retries: %s",
								 Max(resp.attempts - 1, 0), resp.message);
		etop_http_response_free(&resp);
	}
	return res;
}
