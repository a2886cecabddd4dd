/*
 * The executors by kind: the only place that maps a config word to the
 * code that runs it.
 */
#include <stddef.h>

#include "tendd.h"

const struct executor_ops *executor_ops(enum executor_kind kind)
{
	static const struct executor_ops *const ops[EXEC_KINDS] = {
	    [EXEC_ASYNC] = &exec_async_ops,
	    [EXEC_THREAD] = &exec_thread_ops,
	    [EXEC_THREAD_ASYNC] = &exec_thread_async_ops,
	    [EXEC_PROCESS] = &exec_process_ops,
	    [EXEC_PROCESS_ASYNC] = &exec_process_async_ops,
	};
	return ops[kind];
}
