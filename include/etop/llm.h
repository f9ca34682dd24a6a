/*
 * llm.h — QBR narratives from an OpenAI-compatible chat-completions API
 * (narrative_llm.c).  Backend code: used by the QBR workers outside any
 * transaction; never throws (errors come back in the result).
 */
#ifndef ETOP_LLM_H
#define ETOP_LLM_H

typedef struct EtopLlmResult
{
	bool		ok;
	char	   *narrative;		/* JSON object text, when ok */
	char	   *usage;			/* {"prompt_tokens": .., "completion_tokens": .., "total_tokens": ..} or NULL */
	char	   *error;			/* "OpenAI API timeout after 3 retries", ... when !ok */
} EtopLlmResult;

/* The system prompt: the spec's strict rules (exposed for tests and docs). */
extern const char *etop_llm_system_prompt;

/* input_json: etop.narrative_input() as text.  Allocates in the current context. */
extern EtopLlmResult etop_llm_narrative(const char *input_json);

#endif							/* ETOP_LLM_H */
