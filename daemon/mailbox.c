/*
 * Mailboxes: messages between services (tend_send), and state changes to
 * the runs that watch a service (tend_watch).
 *
 * Each supervisor has one mailbox, a bounded FIFO: one queue per receiver
 * keeps the order of every sender's messages to it. A mailbox belongs to
 * one run at a time (mailbox_open() at each start): it takes mail only
 * while that run is up, and what the run was not given when it ends is
 * dropped, and counted. The executors deliver: each binds a wake-up
 * function, called (under the mailbox's lock, so it is never called after
 * mailbox_unbind() returned) when mail arrives, and takes the mail where
 * the plugin runs.
 *
 * Senders are on any thread, while the main loop creates and frees
 * mailboxes as reloads change the services: a registry by name, under a
 * read-write lock that senders hold (for reading) from the lookup to the
 * end of the enqueue, and that only the main thread takes for writing.
 * Locks are taken in one order: the registry, then watch_lock, then a
 * single mailbox's lock, never two mailboxes at once. No lock is held
 * while plugin code runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tendd.h"

/* A run that watches a service, by name: it may end, or be freed. */
struct watcher {
	char name[NAME_MAX_LEN + 8];
	unsigned long run;
};

struct mailbox {
	char name[NAME_MAX_LEN + 8];
	struct mailbox *next; /* in its registry bucket */
	bool listed;          /* in the registry */
	pthread_mutex_t lock;
	/* under lock */
	unsigned long run;  /* the run mail is for; 0 before the first */
	bool open;          /* that run takes mail now */
	bool receives;      /* its plugin has message() */
	unsigned limit;     /* on queued + held */
	unsigned queued;    /* in the FIFO */
	unsigned held;      /* taken by the executor, not settled yet */
	struct mail *head, **tail;
	mailbox_wake_fn *wake;
	void *wake_arg;
	bool full_said; /* a dropped state change was logged in this run */
	/* written under lock, read without: the run message() is for now */
	_Atomic unsigned long taking;
	/* under watch_lock */
	const char *state; /* for a new watcher: the state it is in */
	struct watcher *watchers;
	size_t nwatchers;
	/* read without a lock by tendctl status */
	_Atomic unsigned long sent, received, refused, dropped;
};

static pthread_rwlock_t registry = PTHREAD_RWLOCK_INITIALIZER;
static struct mailbox **buckets; /* main thread writes, under registry */
static size_t nbuckets, nboxes;
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long runs; /* main thread only */
/* The thread that changes the registry reads it without the lock. */
static _Thread_local bool registry_writer;

static void registry_read(void)
{
	if (!registry_writer)
		pthread_rwlock_rdlock(&registry);
}

static void registry_done(void)
{
	if (!registry_writer)
		pthread_rwlock_unlock(&registry);
}

/* Under the registry lock. The newest of a name wins. */
static struct mailbox *find(const char *name)
{
	if (nbuckets == 0)
		return NULL;
	for (struct mailbox *mb = buckets[name_hash(name) % nbuckets]; mb;
	     mb = mb->next)
		if (strcmp(mb->name, name) == 0)
			return mb;
	return NULL;
}

/* Under the registry's write lock: twice the buckets, same chains order. */
static void grow(void)
{
	size_t n = nbuckets ? nbuckets * 2 : 64;
	struct mailbox **b = calloc(n, sizeof(*b));

	if (b == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < nbuckets; i++) {
		struct mailbox *mb = buckets[i], *next, **at;
		for (; mb; mb = next) {
			next = mb->next;
			/* append: a chain keeps newest first */
			for (at = &b[name_hash(mb->name) % n]; *at; at = &(*at)->next)
				;
			mb->next = NULL;
			*at = mb;
		}
	}
	free(buckets);
	buckets = b;
	nbuckets = n;
}

static unsigned clamp_limit(int limit)
{
	if (limit <= 0)
		return MAILBOX_DEFAULT;
	return limit > MAILBOX_MAX ? MAILBOX_MAX : (unsigned)limit;
}

static struct mail *mail_new(const char *from, const char *prefix,
                             const void *data, size_t len)
{
	struct mail *m = malloc(sizeof(*m) + len + 1);
	size_t p = strlen(prefix), f = strnlen(from, sizeof(m->from) - 1 - p);

	if (m == NULL)
		fatalx("out of memory");
	m->next = NULL;
	m->block = NULL;
	m->len = (uint32_t)len;
	/* no snprintf: it was a third of the cost of a message */
	memcpy(m->from, prefix, p);
	memcpy(m->from + p, from, f);
	m->from[p + f] = '\0';
	m->fromlen = (unsigned char)(p + f);
	if (len)
		memcpy(m->data, data, len);
	m->data[len] = '\0';
	return m;
}

/*
 * The mails of a batch are made in blocks of about MAIL_BLOCK bytes, one
 * allocation each, freed with the last of its mails: a malloc() and a
 * free() per message were a fifth of the cost of one from a child.
 */
#define MAIL_BLOCK 65536
struct mail_block {
	_Atomic unsigned refs;                 /* its mails not freed yet */
	_Alignas(struct mail) unsigned char mails[]; /* mail_size() each */
};

static size_t mail_size(size_t len)
{
	size_t align = _Alignof(struct mail);

	return (sizeof(struct mail) + len + 1 + align - 1) & ~(align - 1);
}

/* Free a mail: a block goes with the last of its mails. Any thread. */
void mail_free(struct mail *m)
{
	if (m == NULL)
		return;
	if (m->block == NULL)
		free(m);
	else if (atomic_fetch_sub(&m->block->refs, 1) == 1)
		free(m->block);
}

/* A chain of mails (by next), freed: those of a block with one count. */
void mail_free_chain(struct mail *m)
{
	while (m) {
		struct mail *next = m->next;
		struct mail_block *b = m->block;
		unsigned n = 1;

		if (b == NULL) {
			free(m);
		} else {
			while (next && next->block == b) {
				n++;
				next = next->next;
			}
			if (atomic_fetch_sub(&b->refs, n) == n)
				free(b);
		}
		m = next;
	}
}

/*
 * Copies of msgs[0..n) from `from`, chained in order (*last the last),
 * in blocks: a message too big to share one is made alone.
 */
static struct mail *mails_new(const char *from, const struct tend_msg *msgs,
                              unsigned n, struct mail **last)
{
	struct mail *first = NULL, **at = &first, *m = NULL;
	size_t f = strnlen(from, sizeof(m->from) - 1);
	unsigned i = 0;

	while (i < n) {
		size_t size = sizeof(struct mail_block);
		unsigned j = i;
		struct mail_block *b;
		unsigned char *p;

		while (j < n && size + mail_size(msgs[j].len) <= MAIL_BLOCK)
			size += mail_size(msgs[j++].len);
		if (j == i) { /* too big to share */
			m = mail_new(from, "", msgs[i].data, msgs[i].len);
			*at = m;
			at = &m->next;
			i++;
			continue;
		}
		if ((b = malloc(size)) == NULL)
			fatalx("out of memory");
		atomic_init(&b->refs, j - i);
		p = b->mails;
		for (; i < j; i++) {
			m = (struct mail *)p;
			m->block = b;
			m->len = (uint32_t)msgs[i].len;
			m->fromlen = (unsigned char)f;
			memcpy(m->from, from, f);
			m->from[f] = '\0';
			if (m->len)
				memcpy(m->data, msgs[i].data, m->len);
			m->data[m->len] = '\0';
			*at = m;
			at = &m->next;
			p += mail_size(m->len);
		}
	}
	*at = NULL;
	*last = m;
	return first;
}

/* Under mb->lock: forget the queue; returns how many were in it. */
static unsigned discard(struct mailbox *mb)
{
	unsigned n = mb->queued;

	mail_free_chain(mb->head);
	mb->head = NULL;
	mb->tail = &mb->head;
	mb->queued = 0;
	mb->dropped += n;
	return n;
}

static void say_dropped(const struct mailbox *mb, unsigned n)
{
	if (n)
		log_at(TEND_LOG_NOTICE, mb->name,
		       "run over: %u undelivered message%s dropped", n,
		       n == 1 ? "" : "s");
}

/* Under mb->lock: 0 when the open run takes `n` more, or an errno value. */
static int room_for(const struct mailbox *mb, unsigned n, bool bounded)
{
	if (!mb->open)
		return ESRCH;
	if (!mb->receives)
		return EOPNOTSUPP;
	if (bounded && mb->queued + mb->held + n > mb->limit)
		return EAGAIN;
	return 0;
}

/*
 * Under mb->lock: append the chain `first`..`last` of `n` mails. Only a
 * queue that was empty wakes its deliverer: one that finds mail left
 * after its batch comes back by itself.
 */
static void append(struct mailbox *mb, struct mail *first, struct mail *last,
                   unsigned n)
{
	bool was_empty = mb->head == NULL;

	last->next = NULL;
	*mb->tail = first;
	mb->tail = &last->next;
	mb->queued += n;
	if (was_empty && mb->wake)
		mb->wake(mb->wake_arg);
}

/*
 * Under mb->lock: queue `m` for the open run, within the limit when
 * `bounded`. Returns 0 (m is the mailbox's now), or an errno value.
 */
static int put(struct mailbox *mb, struct mail *m, bool bounded)
{
	int err = room_for(mb, 1, bounded);

	if (err == 0)
		append(mb, m, m, 1);
	return err;
}

/*
 * A mailbox for service `name`, holding at most `limit` messages, found
 * by name from now on. Main thread. A mailbox of the same name that still
 * exists (a removed service whose thread would not stop) is hidden.
 */
struct mailbox *mailbox_new(const char *name, int limit)
{
	struct mailbox *mb = calloc(1, sizeof(*mb));
	size_t at;

	if (mb == NULL)
		fatalx("out of memory");
	snprintf(mb->name, sizeof(mb->name), "%s", name);
	pthread_mutex_init(&mb->lock, NULL);
	mb->limit = clamp_limit(limit);
	mb->tail = &mb->head;
	mb->state = "stopped";
	registry_writer = true;
	pthread_rwlock_wrlock(&registry);
	if (nboxes >= nbuckets)
		grow();
	at = name_hash(name) % nbuckets;
	mb->next = buckets[at];
	buckets[at] = mb;
	mb->listed = true;
	nboxes++;
	pthread_rwlock_unlock(&registry);
	return mb;
}

/* Unlist and free it, with what it holds. Main thread. */
void mailbox_free(struct mailbox *mb)
{
	if (mb == NULL)
		return;
	pthread_rwlock_wrlock(&registry);
	if (mb->listed) {
		struct mailbox **at = &buckets[name_hash(mb->name) % nbuckets];
		while (*at != mb)
			at = &(*at)->next;
		*at = mb->next;
		if (--nboxes == 0) { /* the last: nothing is left at exit */
			free(buckets);
			buckets = NULL;
			nbuckets = 0;
		}
	}
	pthread_rwlock_unlock(&registry);
	/* no sender can reach it now: they find it only under the lock */
	pthread_mutex_lock(&mb->lock);
	discard(mb);
	pthread_mutex_unlock(&mb->lock);
	pthread_mutex_destroy(&mb->lock);
	free(mb->watchers);
	free(mb);
}

/* A reload changed `mailbox`: it applies to the next message. */
void mailbox_set_limit(struct mailbox *mb, int limit)
{
	if (mb == NULL)
		return;
	pthread_mutex_lock(&mb->lock);
	mb->limit = clamp_limit(limit);
	pthread_mutex_unlock(&mb->lock);
}

/*
 * A new run starts (main thread): it takes mail from now on, into a queue
 * of `limit`; `receives` says whether its plugin has message(). Returns
 * the run's number, for the calls below.
 */
unsigned long mailbox_open(struct mailbox *mb, int limit, bool receives)
{
	unsigned n;
	unsigned long run;

	if (mb == NULL)
		return 0;
	pthread_mutex_lock(&mb->lock);
	n = discard(mb); /* a run that ended without a state change */
	run = mb->run = ++runs;
	mb->open = true;
	mb->taking = run;
	mb->receives = receives;
	mb->limit = clamp_limit(limit);
	mb->held = 0;
	mb->wake = NULL;
	mb->full_said = false;
	pthread_mutex_unlock(&mb->lock);
	say_dropped(mb, n);
	return run;
}

/* Run `run` takes no more mail; what it was not given is dropped. */
void mailbox_close(struct mailbox *mb, unsigned long run)
{
	unsigned n = 0;

	if (mb == NULL)
		return;
	pthread_mutex_lock(&mb->lock);
	if (mb->run == run && mb->open) {
		mb->open = false;
		mb->taking = 0;
		n = discard(mb);
	}
	pthread_mutex_unlock(&mb->lock);
	say_dropped(mb, n);
}

/* Under watch_lock and the registry: tell one watcher; false: gone. */
static bool tell(const struct watcher *w, const char *from, const char *state)
{
	struct mailbox *to = find(w->name);
	struct mail *m;
	bool alive;
	int err = 0;

	if (to == NULL)
		return false;
	m = mail_new(from, "@", state, strlen(state));
	pthread_mutex_lock(&to->lock);
	alive = to->run == w->run && to->open;
	if (alive && (err = put(to, m, true)) == 0)
		m = NULL;
	if (err == EAGAIN) {
		to->dropped++;
		if (!to->full_said)
			log_at(TEND_LOG_WARNING, to->name,
			       "mailbox full (%u): state change '%s' of '%s' "
			       "dropped",
			       to->limit, state, from);
		to->full_said = true;
	}
	pthread_mutex_unlock(&to->lock);
	mail_free(m);
	return alive;
}

/*
 * The service entered `state` (main thread): when it is not `up` any
 * more, its run takes no more mail; every run watching it is told.
 */
void mailbox_state(struct mailbox *mb, const char *state, bool up)
{
	if (mb == NULL)
		return;
	if (!up)
		mailbox_close(mb, mb->run); /* only this thread writes run */
	registry_read();
	pthread_mutex_lock(&watch_lock);
	mb->state = state;
	for (size_t i = 0; i < mb->nwatchers;) {
		if (tell(&mb->watchers[i], mb->name, state)) {
			i++;
			continue;
		}
		/* that run is over: forget it */
		mb->watchers[i] = mb->watchers[--mb->nwatchers];
	}
	pthread_mutex_unlock(&watch_lock);
	registry_done();
}

/*
 * Where run `run` is delivered: wake(arg) is called, from any thread,
 * whenever mail arrives, and now if some waits. Any thread.
 */
void mailbox_bind(struct mailbox *mb, unsigned long run, mailbox_wake_fn *wake,
                  void *arg)
{
	if (mb == NULL)
		return;
	pthread_mutex_lock(&mb->lock);
	if (mb->run == run) {
		mb->wake = wake;
		mb->wake_arg = arg;
		if (mb->head)
			wake(arg);
	}
	pthread_mutex_unlock(&mb->lock);
}

/* No more wake-ups for run `run`: once this returns, wake is not called. */
void mailbox_unbind(struct mailbox *mb, unsigned long run)
{
	if (mb == NULL)
		return;
	pthread_mutex_lock(&mb->lock);
	if (mb->run == run)
		mb->wake = NULL;
	pthread_mutex_unlock(&mb->lock);
}

/*
 * The oldest message for run `run`, or NULL. It still counts against the
 * limit until mailbox_settle() says what became of it. The caller frees
 * it (mail_free). Any thread.
 */
struct mail *mailbox_take(struct mailbox *mb, unsigned long run)
{
	struct mail *m = NULL;

	if (mb == NULL)
		return NULL;
	pthread_mutex_lock(&mb->lock);
	if (mb->run == run && mb->head) {
		m = mb->head;
		mb->head = m->next;
		if (mb->head == NULL)
			mb->tail = &mb->head;
		m->next = NULL;
		mb->queued--;
		mb->held++;
	}
	pthread_mutex_unlock(&mb->lock);
	return m;
}

/*
 * Under mb->lock: take the `got` mails from the head to `last`, which
 * count against the limit until settled. Returns the first.
 */
static struct mail *detach(struct mailbox *mb, struct mail *last,
                           unsigned got)
{
	struct mail *first = mb->head;

	mb->head = last->next;
	if (mb->head == NULL)
		mb->tail = &mb->head;
	last->next = NULL;
	mb->queued -= got;
	mb->held += got;
	return first;
}

/*
 * The oldest messages for run `run`, in order, as a chain of *n: at most
 * `max` of them, and no more than fit in `bytes`, each counted as its
 * length, its sender's name and `each`. NULL and 0 when none waits, or
 * the first does not fit. They still count against the limit until
 * mailbox_settle() says what became of them. The caller frees them
 * (mail_free). Any thread.
 */
struct mail *mailbox_take_some(struct mailbox *mb, unsigned long run,
                               unsigned max, size_t bytes, size_t each,
                               unsigned *n)
{
	struct mail *first = NULL, *last = NULL;
	unsigned got = 0;

	*n = 0;
	if (mb == NULL)
		return NULL;
	pthread_mutex_lock(&mb->lock);
	if (mb->run == run) {
		for (struct mail *m = mb->head; m && got < max; m = m->next) {
			size_t cost = m->len + m->fromlen + each;
			if (cost > bytes)
				break;
			bytes -= cost;
			last = m;
			got++;
		}
	}
	if (last)
		first = detach(mb, last, got);
	pthread_mutex_unlock(&mb->lock);
	*n = got;
	return first;
}

/* Of the messages taken, `delivered` reached message(), `lost` did not. */
void mailbox_settle(struct mailbox *mb, unsigned long run, unsigned delivered,
                    unsigned lost)
{
	unsigned n = delivered + lost;

	if (mb == NULL)
		return;
	pthread_mutex_lock(&mb->lock);
	if (mb->run == run)
		mb->held = mb->held > n ? mb->held - n : 0;
	pthread_mutex_unlock(&mb->lock);
	mb->received += delivered;
	mb->dropped += lost;
}

/*
 * For the in-process executors: give `in`'s message() at most `max`
 * messages, on the caller's thread, taken at once and settled at once.
 * One that comes after the run stopped taking mail is not given, but
 * counted as dropped. Returns true when more wait.
 */
bool mailbox_deliver(struct mailbox *mb, struct instance *in, unsigned max)
{
	unsigned long run = in->mail_run;
	struct mail *m;
	unsigned got = 0, delivered = 0;
	bool more;

	if (mb == NULL)
		return false;
	pthread_mutex_lock(&mb->lock);
	m = mb->run == run ? mb->head : NULL;
	if (m) {
		struct mail *last = m;
		for (got = 1; got < max && last->next; got++)
			last = last->next;
		detach(mb, last, got);
	}
	more = mb->head != NULL;
	pthread_mutex_unlock(&mb->lock);
	for (struct mail *at = m; at; at = at->next) {
		if (in->api->message && atomic_load_explicit(
		                            &mb->taking, memory_order_relaxed) == run) {
			in->api->message(&in->ctx, at->from, at->data, at->len);
			delivered++;
		}
	}
	mail_free_chain(m);
	if (got)
		mailbox_settle(mb, run, delivered, got - delivered);
	return more;
}

/* Under the registry: how many more messages `mb` takes now, or 0 and why. */
static unsigned room_now(struct mailbox *mb, int *err)
{
	unsigned room = 0;

	pthread_mutex_lock(&mb->lock);
	*err = room_for(mb, 1, true);
	if (*err == 0)
		room = mb->limit - mb->queued - mb->held;
	pthread_mutex_unlock(&mb->lock);
	return room;
}

/*
 * Queue copies of msgs[0..n) for service `to`, from `from` (counted as
 * sent by `from_box`, which may be NULL), in order, with one lookup, one
 * lock and at most one wake-up. Any thread. Returns how many were
 * queued, the first ones; when fewer than n, *err says why the next was
 * not, as mailbox_send() would for it alone: ENOENT, ESRCH, EOPNOTSUPP,
 * EAGAIN, EMSGSIZE or EINVAL. The others are not tried. A refusal by the
 * receiver (ESRCH, EOPNOTSUPP, EAGAIN) is counted by it, once.
 */
size_t mailbox_send_batch(struct mailbox *from_box, const char *from,
                          const char *to, const struct tend_msg *msgs,
                          size_t n, int *err)
{
	struct mailbox *mb;
	struct mail *first = NULL, *last = NULL;
	unsigned want = n > MAILBOX_MAX ? MAILBOX_MAX : (unsigned)n, k = 0;
	int why = want < n ? EAGAIN : 0; /* more than any mailbox holds */

	if (to == NULL) {
		*err = EINVAL;
		return 0;
	}
	for (unsigned i = 0; i < want; i++) {
		int bad = mail_refused_early(&msgs[i]);
		if (bad) {
			want = i;
			why = bad;
		}
	}
	if (want == 0) {
		*err = why ? why : 0;
		return 0;
	}
	registry_read();
	mb = find(to);
	if (mb == NULL) {
		why = ENOENT;
		goto out;
	}
	/* no copy of what it has no room for */
	unsigned room = room_now(mb, err);
	if (room == 0) {
		why = *err;
	} else if (room < want) {
		want = room;
		why = EAGAIN;
	}
	if (room)
		first = mails_new(from, msgs, want, &last);
	if (first) {
		int now;
		pthread_mutex_lock(&mb->lock);
		/* others may have filled it, or its run ended, meanwhile */
		if ((now = room_for(mb, want, true)) == 0) {
			append(mb, first, last, want);
			k = want;
			first = NULL;
		} else {
			why = now;
		}
		pthread_mutex_unlock(&mb->lock);
	}
	if (why == ESRCH || why == EOPNOTSUPP || why == EAGAIN)
		mb->refused++;
out:
	registry_done();
	mail_free_chain(first);
	if (from_box)
		from_box->sent += k;
	*err = k == n ? 0 : why;
	return k;
}

/*
 * Queue a copy of `data` for service `to`, from `from` (counted as sent by
 * `from_box`, which may be NULL). Any thread. Returns 0 or an errno value,
 * as mailbox_send_batch() would for this one message.
 */
int mailbox_send(struct mailbox *from_box, const char *from, const char *to,
                 const void *data, size_t len)
{
	struct tend_msg msg = {data, len};
	struct mailbox *mb;
	struct mail *m;
	int err = mail_refused_early(&msg);

	if (to == NULL)
		return EINVAL;
	if (err)
		return err;
	m = mail_new(from, "", data, len); /* not under any lock */
	registry_read();
	mb = find(to);
	if (mb == NULL) {
		err = ENOENT;
	} else {
		pthread_mutex_lock(&mb->lock);
		err = put(mb, m, true);
		pthread_mutex_unlock(&mb->lock);
		if (err)
			mb->refused++;
	}
	registry_done();
	if (err) {
		mail_free(m);
		return err;
	}
	if (from_box)
		from_box->sent++;
	return 0;
}

/*
 * Run `run` of `watcher` watches service `name` from now on, and is told
 * its current state at once. Any thread. Returns 0, ENOENT or EOPNOTSUPP.
 * A run that is over already gets nothing, and 0.
 */
int mailbox_watch(struct mailbox *watcher, unsigned long run, const char *name)
{
	struct mailbox *mb;
	struct watcher *w = NULL;
	bool current, receives;
	int err = 0;

	if (watcher == NULL || name == NULL)
		return EINVAL;
	pthread_mutex_lock(&watcher->lock);
	current = watcher->run == run && watcher->open;
	receives = watcher->receives;
	pthread_mutex_unlock(&watcher->lock);
	registry_read();
	mb = find(name);
	if (mb == NULL)
		err = ENOENT;
	else if (!receives)
		err = EOPNOTSUPP;
	if (err || !current)
		goto out;
	pthread_mutex_lock(&watch_lock);
	for (size_t i = 0; i < mb->nwatchers; i++)
		if (strcmp(mb->watchers[i].name, watcher->name) == 0)
			w = &mb->watchers[i];
	if (w == NULL || w->run != run) {
		if (w == NULL) {
			/* one entry per watching service: bounded */
			w = realloc(mb->watchers,
			            (mb->nwatchers + 1) * sizeof(*w));
			if (w == NULL)
				fatalx("out of memory");
			mb->watchers = w;
			w = &mb->watchers[mb->nwatchers++];
			snprintf(w->name, sizeof(w->name), "%s", watcher->name);
		}
		w->run = run;
		tell(w, mb->name, mb->state);
	}
	pthread_mutex_unlock(&watch_lock);
out:
	registry_done();
	return err;
}

/* Its counters, for tendctl status; zeros for NULL. */
void mailbox_counts(struct mailbox *mb, struct mail_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (mb == NULL)
		return;
	out->sent = mb->sent;
	out->received = mb->received;
	out->refused = mb->refused;
	out->dropped = mb->dropped;
	pthread_mutex_lock(&mb->lock);
	out->queued = mb->queued + mb->held;
	pthread_mutex_unlock(&mb->lock);
}
