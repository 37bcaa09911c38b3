/*
 * The fan-out's sends, made from C: one line to each of many sockets, with
 * the GIL let go once for all of them (chatsvc.streams.eagertcp.send_each
 * says what it does; this is its compiled form, and the Python one there is
 * what runs where this was not built). A top-level module, _chatsvc_sendeach,
 * so that it is found beside the installed package even when the package
 * itself is imported from a source tree (as the tests do).
 *
 * Python's socket.send costs a call, a tuple of arguments, a buffer, letting
 * go of the GIL and taking it back, and an int for its result, for each
 * recipient of each line: measured, 3-6% of the server's CPU a delivery in a
 * room of 200 and 12% in one of 2,000 (docs/benchmarks.md). Here that is paid
 * once a line.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* Python ignores SIGPIPE: EPIPE comes back as an error. */
#endif

/* Descriptors sent to without taking memory: a room's members, most times. */
#define ON_STACK 256

/*
 * data to each of the n non-blocking sockets fds, with the GIL let go once
 * for them all: sent[i] is what fds[i] took (0 where send failed). Returns
 * how many did not take all of it.
 */
static Py_ssize_t
send_all(const int *fds, Py_ssize_t n, const Py_buffer *data, Py_ssize_t *sent)
{
    Py_ssize_t short_sends = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        ssize_t r;
        do {
            r = send(fds[i], data->buf, (size_t)data->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (r < 0 && errno == EINTR);
        sent[i] = r < 0 ? 0 : (Py_ssize_t)r;
        if (sent[i] != data->len) {
            short_sends++;
        }
    }
    Py_END_ALLOW_THREADS
    return short_sends;
}

/*
 * The sends of send_all that fell short, as a list of short_sends pairs
 * (key, bytes sent): key is members[index[j]] for send j, or, with no
 * members, j itself.
 */
static PyObject *
short_sends_list(Py_ssize_t short_sends, Py_ssize_t n, const Py_ssize_t *sent, Py_ssize_t len,
                 PyObject *members, const Py_ssize_t *index)
{
    PyObject *result = PyList_New(short_sends);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t j = 0, k = 0; j < n; j++) {
        if (sent[j] == len) {
            continue;
        }
        PyObject *item = members == NULL
            ? Py_BuildValue("(nn)", j, sent[j])
            : Py_BuildValue("(On)", PyList_GET_ITEM(members, index[j]), sent[j]);
        if (item == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, k++, item);
    }
    return result;
}

PyDoc_STRVAR(send_each_doc,
"send_each(fds, data, /)\n--\n\n"
"Send data to each of the non-blocking sockets fds (a list of descriptors),\n"
"each once. None if every one took all of it; else a list of\n"
"(index in fds, bytes sent) for those that did not, 0 where send failed.");

static PyObject *
send_each(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "send_each() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *fds = args[0];
    if (!PyList_Check(fds)) {
        PyErr_Format(PyExc_TypeError, "send_each() fds must be a list, not %.100s",
                     Py_TYPE(fds)->tp_name);
        return NULL;
    }
    Py_buffer data;
    if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = PyList_GET_SIZE(fds);
    int stack_fds[ON_STACK];
    Py_ssize_t stack_sent[ON_STACK];
    int *cfds = stack_fds;
    Py_ssize_t *sent = stack_sent;
    if (n > ON_STACK) {
        cfds = PyMem_New(int, n);
        sent = PyMem_New(Py_ssize_t, n);
        if (cfds == NULL || sent == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    /* Plain ints only: nothing here may run Python code, which could change the list. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(fds, i);
        if (!PyLong_Check(item)) {
            PyErr_Format(PyExc_TypeError, "send_each() fds must be ints, not %.100s",
                         Py_TYPE(item)->tp_name);
            goto done;
        }
        long fd = PyLong_AsLong(item);
        if (fd == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (fd < 0 || fd > INT_MAX) {
            PyErr_Format(PyExc_ValueError, "send_each() got %ld, not a file descriptor", fd);
            goto done;
        }
        cfds[i] = (int)fd;
    }

    Py_ssize_t short_sends = send_all(cfds, n, &data, sent);
    result = short_sends ? short_sends_list(short_sends, n, sent, data.len, NULL, NULL)
                         : Py_NewRef(Py_None);

done:
    if (cfds != stack_fds) {
        PyMem_Free(cfds);
    }
    if (sent != stack_sent) {
        PyMem_Free(sent);
    }
    PyBuffer_Release(&data);
    return result;
}

/*
 * deliver_each: the fan-out's pick of its members, as well as its sends.
 *
 * Reading each member's state from Python (its turn, its transport, the
 * transport's send_now and descriptor) cost the fan-out more than the sends'
 * own Python once those were made here: a member's protocol, its transport,
 * the transport's dict and the descriptor's int are four or five objects
 * that the kernel's work since the last line has pushed out of the caches
 * (docs/benchmarks.md). Here a member costs a pointer in the room's list, an
 * int in its parallel array of descriptors, an entry in the table of the
 * transports that may be sent to straight (chatsvc.streams.eagertcp.DIRECT,
 * indexed by descriptor and naming the protocol), and, for one found there,
 * the line of its own object that holds its turn, its held writes and
 * whether it is backlogged, read at their slots' offsets.
 */

/* Where a protocol type keeps the slots the pick reads, found once per type. */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t turn, held, backlogged; /* offsets, or 0 where not slots */
} Offsets;

static Py_ssize_t
slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *key = PyUnicode_InternFromString(name);
    if (key == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *descr = _PyType_Lookup(type, key); /* borrowed; runs no Python */
    Py_DECREF(key);
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        return 0;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        return 0;
    }
    return member->offset;
}

static int
find_offsets(Offsets *found, PyTypeObject *type)
{
    if (found->type != type) {
        found->type = type;
        found->turn = slot_offset(type, "_turn");
        found->held = slot_offset(type, "_held");
        found->backlogged = slot_offset(type, "_backlogged");
    }
    return found->turn && found->held && found->backlogged;
}

#define SLOT(object, offset) (*(PyObject **)((char *)(object) + (offset)))

PyDoc_STRVAR(deliver_each_doc,
"deliver_each(direct, members, fds, turn, exclude, data, /)\n--\n\n"
"What ChatFactory._deliver does for the members it can serve without Python\n"
"(chatsvc.frontends.line.server): data to each of members (a list) but\n"
"exclude, fds[i] being members[i]'s descriptor or -1. A member that\n"
"direct[fd] names is served here: sent data at once if its _turn is not\n"
"turn (which it then becomes), else data appended to its _held list if it\n"
"has one and is not _backlogged. Returns (skipped, rest, short): 1 if\n"
"exclude was among members, else 0; None or a list of the members left for\n"
"Python's own path; None or a list of (member, bytes sent) for those sent\n"
"to whose socket did not take all of data (0 where send failed).");

static PyObject *
deliver_each(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "deliver_each() takes 6 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *direct = args[0], *members = args[1], *turn = args[3], *exclude = args[4];
    if (!PyList_Check(direct) || !PyList_Check(members)) {
        PyErr_SetString(PyExc_TypeError, "deliver_each() direct and members must be lists");
        return NULL;
    }
    if (!PyLong_CheckExact(turn)) {
        PyErr_SetString(PyExc_TypeError, "deliver_each() turn must be an int");
        return NULL;
    }
    long long turn_value = PyLong_AsLongLong(turn);
    if (turn_value == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer fds;
    if (PyObject_GetBuffer(args[2], &fds, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Py_buffer data;
    if (PyObject_GetBuffer(args[5], &data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&fds);
        return NULL;
    }
    PyObject *result = NULL, *rest = NULL, *short_list = NULL;
    Py_ssize_t n = PyList_GET_SIZE(members);
    int stack_fds[ON_STACK];
    Py_ssize_t stack_sent[ON_STACK], stack_index[ON_STACK];
    int *cfds = stack_fds;
    Py_ssize_t *sent = stack_sent, *index = stack_index;
    if ((size_t)fds.len != (size_t)n * sizeof(int)) {
        PyErr_SetString(PyExc_ValueError, "deliver_each() fds must be an array('i') as long as members");
        goto done;
    }
    if (n > ON_STACK) {
        cfds = PyMem_New(int, n);
        sent = PyMem_New(Py_ssize_t, n);
        index = PyMem_New(Py_ssize_t, n);
        if (cfds == NULL || sent == NULL || index == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    const int *member_fds = (const int *)fds.buf;
    Py_ssize_t direct_size = PyList_GET_SIZE(direct);
    Offsets offsets = {NULL, 0, 0, 0};
    Py_ssize_t skipped = 0, k = 0;
    /* Nothing here runs Python code (an int freed, a list grown), which could change the lists. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *member = PyList_GET_ITEM(members, i);
        if (member == exclude) {
            skipped = 1;
            continue;
        }
        int fd = member_fds[i];
        if (fd >= 0 && fd < direct_size && PyList_GET_ITEM(direct, fd) == member
            && find_offsets(&offsets, Py_TYPE(member))) {
            PyObject *last = SLOT(member, offsets.turn);
            if (last == NULL || !PyLong_CheckExact(last)) {
                goto in_python; /* compared as Python compares it, there */
            }
            int overflow;
            long long last_value = PyLong_AsLongLongAndOverflow(last, &overflow);
            if (overflow || last_value != turn_value) {
                /* Not yet written to in this turn: the line goes at once, and is its first. */
                SLOT(member, offsets.turn) = Py_NewRef(turn);
                Py_XDECREF(last);
                cfds[k] = fd;
                index[k] = i;
                k++;
                continue;
            }
            PyObject *held = SLOT(member, offsets.held);
            if (held != NULL && PyList_CheckExact(held)
                && SLOT(member, offsets.backlogged) == Py_False) {
                /* Written to, more held for the turn's end (a burst): one more line there. */
                if (PyList_Append(held, args[5]) == 0) {
                    continue;
                }
                PyErr_Clear(); /* left to Python's own path, which will say so */
            }
        }
    in_python:
        if (rest == NULL && (rest = PyList_New(0)) == NULL) {
            goto done;
        }
        if (PyList_Append(rest, member) < 0) {
            goto done;
        }
    }

    Py_ssize_t short_sends = k ? send_all(cfds, k, &data, sent) : 0;
    if (short_sends
        && (short_list = short_sends_list(short_sends, k, sent, data.len, members, index)) == NULL) {
        goto done;
    }
    result = Py_BuildValue("(nOO)", skipped, rest ? rest : Py_None,
                           short_list ? short_list : Py_None);

done:
    Py_XDECREF(rest);
    Py_XDECREF(short_list);
    if (cfds != stack_fds) {
        PyMem_Free(cfds);
    }
    if (sent != stack_sent) {
        PyMem_Free(sent);
    }
    if (index != stack_index) {
        PyMem_Free(index);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&fds);
    return result;
}

static PyMethodDef methods[] = {
    {"send_each", (PyCFunction)(void (*)(void))send_each, METH_FASTCALL, send_each_doc},
    {"deliver_each", (PyCFunction)(void (*)(void))deliver_each, METH_FASTCALL, deliver_each_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef_Slot slots[] = {
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_chatsvc_sendeach",
    .m_doc = "The fan-out's sends, made from C (chatsvc.streams.eagertcp.send_each).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__chatsvc_sendeach(void)
{
    return PyModuleDef_Init(&module);
}
