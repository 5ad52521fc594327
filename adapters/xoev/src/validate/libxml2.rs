//! The only place that talks to libxml2: compiling a schema pack and validating one
//! document, behind a small safe interface. Everything else in [`crate::validate`] is
//! plain Rust.
//!
//! We use the raw bindings of the `libxml` crate (`libxml::bindings`) rather than its
//! schema wrapper, because we need three things the wrapper does not give: the node each
//! validation error belongs to (for the element path), full control over the parser
//! options of the document, and control over every resource libxml2 loads.
//!
//! **Nothing is loaded that we did not hand over.** libxml2 loads every external resource
//! (an `xs:include`/`xs:import`, an external DTD or entity, the schema document itself)
//! through one process-wide hook, the *external entity loader*. [`init`] replaces it once
//! with [`load_entity`], which looks at a thread-local *scope* set by the operation
//! running on the calling thread:
//! - while a pack compiles, the URL is resolved by that pack's [`Resolver`] (its own
//!   virtual URLs and its catalog) and the bytes are served from the pack; any other URL
//!   is refused and remembered, and the compile fails naming it;
//! - while a document is parsed and validated, everything is refused;
//! - on threads where no amtsbote operation runs, the loader libxml2 had before is used,
//!   so other users of libxml2 in the same process keep their behaviour.
//!
//! So no file outside a pack is read and no socket is ever opened, whatever a schema or a
//! message says.
//!
//! **Threads.** A compiled schema (`xmlSchemaPtr`) is read-only after compilation and may
//! be used from several threads at once; a validation context is not thread-safe, so
//! [`Schema::validate`] creates a fresh one per call (cheap next to parsing the document)
//! instead of caching one per thread: no thread-local state outlives a call, which keeps
//! this correct under tokio's work-stealing and `spawn_blocking` threads. libxml2's error
//! handler is per thread in a thread-enabled build (Debian's is), and we install ours only
//! for the duration of a call.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::sync::{Arc, Once, OnceLock};

use libxml::bindings as xml;

use super::pack::Resolver;

/// Scheme of the virtual URLs under which pack files are handed to libxml2, e.g.
/// `amtsbote-pack://xbau-2.6/xsd/xbau-baukasten.xsd`. Not a real location: only
/// [`load_entity`] understands it.
pub(crate) const PACK_SCHEME: &str = "amtsbote-pack://";

/// The loader that was installed before ours, used outside amtsbote operations.
static PREVIOUS_LOADER: OnceLock<xml::xmlExternalEntityLoader> = OnceLock::new();

/// Initialises libxml2 once per process and installs [`load_entity`].
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: called once, before any other libxml2 call of this module; libxml2
        // documents xmlInitParser as the thing to call before multi-threaded use.
        unsafe {
            xml::xmlInitParser();
            let _ = PREVIOUS_LOADER.set(xml::xmlGetExternalEntityLoader());
            xml::xmlSetExternalEntityLoader(Some(load_entity));
        }
    });
}

// ---------------------------------------------------------------------------------------
// What the loader may do on this thread right now.

enum Scope {
    /// A pack is compiling: serve its files, refuse and remember everything else.
    Compile {
        resolver: Arc<Resolver>,
        refused: Vec<String>,
        unreadable: Vec<(String, String)>,
    },
    /// A document is being parsed or validated: refuse everything.
    Document,
}

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Sets the scope for the current thread until dropped.
struct ScopeGuard;

impl ScopeGuard {
    fn enter(scope: Scope) -> Self {
        SCOPE.with(|s| *s.borrow_mut() = Some(scope));
        Self
    }

    fn finish(self) -> Option<Scope> {
        SCOPE.with(|s| s.borrow_mut().take())
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SCOPE.with(|s| s.borrow_mut().take());
    }
}

enum Load {
    Delegate,
    Refuse,
    Serve { url: String, bytes: Vec<u8> },
}

/// libxml2's external entity loader (see the module documentation).
unsafe extern "C" fn load_entity(
    url: *const c_char,
    id: *const c_char,
    ctxt: xml::xmlParserCtxtPtr,
) -> xml::xmlParserInputPtr {
    // SAFETY: libxml2 passes NUL-terminated strings or NULL.
    let url_str = unsafe { c_string(url) };
    let id_str = unsafe { c_string(id) };
    // Never unwind into C.
    let decision = std::panic::catch_unwind(|| decide(url_str.as_deref(), id_str.as_deref()))
        .unwrap_or(Load::Refuse);
    match decision {
        Load::Delegate => match PREVIOUS_LOADER.get().copied().flatten() {
            // SAFETY: the loader libxml2 had installed, called as libxml2 would.
            Some(previous) => unsafe { previous(url, id, ctxt) },
            None => ptr::null_mut(),
        },
        Load::Refuse => ptr::null_mut(),
        // SAFETY: ctxt is the parser context libxml2 passed to us (or NULL, which
        // xmlNewIOInputStream accepts).
        Load::Serve { url, bytes } => unsafe { memory_input(ctxt, &url, &bytes) },
    }
}

fn decide(url: Option<&str>, id: Option<&str>) -> Load {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        match scope.as_mut() {
            None => Load::Delegate,
            Some(Scope::Document) => Load::Refuse,
            Some(Scope::Compile {
                resolver,
                refused,
                unreadable,
            }) => {
                let Some(target) = url.and_then(|u| resolver.resolve(u)) else {
                    refused.push(url.or(id).unwrap_or("(no URL)").to_owned());
                    return Load::Refuse;
                };
                match resolver.read(&target) {
                    Ok(bytes) => Load::Serve {
                        url: resolver.virtual_url(&target),
                        bytes,
                    },
                    Err(err) => {
                        unreadable.push((target, err.to_string()));
                        Load::Refuse
                    }
                }
            }
        }
    })
}

/// A libxml2 parser input reading a copy of `bytes`, known to libxml2 as `url` (which
/// is the base for relative references inside it).
unsafe fn memory_input(
    ctxt: xml::xmlParserCtxtPtr,
    url: &str,
    bytes: &[u8],
) -> xml::xmlParserInputPtr {
    let (Ok(len), Ok(url)) = (c_int::try_from(bytes.len()), CString::new(url)) else {
        return ptr::null_mut();
    };
    // SAFETY: CreateMem copies the bytes; on success the input stream owns the buffer
    // and its filename (allocated with libxml2's allocator, freed by xmlFreeInputStream).
    unsafe {
        let buf = xml::xmlParserInputBufferCreateMem(
            bytes.as_ptr().cast(),
            len,
            xml::xmlCharEncoding_XML_CHAR_ENCODING_NONE,
        );
        if buf.is_null() {
            return ptr::null_mut();
        }
        let input =
            xml::xmlNewIOInputStream(ctxt, buf, xml::xmlCharEncoding_XML_CHAR_ENCODING_NONE);
        if input.is_null() {
            xml::xmlFreeParserInputBuffer(buf);
            return ptr::null_mut();
        }
        (*input).filename = xml::xmlStrdup(url.as_ptr().cast()).cast_const().cast();
        input
    }
}

unsafe fn c_string(s: *const c_char) -> Option<String> {
    if s.is_null() {
        None
    } else {
        // SAFETY: caller guarantees a NUL-terminated string.
        Some(unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
    }
}

// ---------------------------------------------------------------------------------------
// Collecting libxml2's errors.

/// One error as libxml2 reported it, copied out of its `xmlError`.
#[derive(Debug, Clone)]
pub(crate) struct RawError {
    pub level: u32,
    pub code: i32,
    pub message: String,
    pub file: Option<String>,
    pub line: i32,
    pub column: i32,
    /// The strings libxml2 inserted into `message` (values or names, see `redact`).
    pub inserted: Vec<String>,
    /// The node the error is about (validation only; valid while the document lives).
    pub node: *const xml::xmlNode,
}

impl RawError {
    pub fn is_error(&self) -> bool {
        self.level >= xml::xmlErrorLevel_XML_ERR_ERROR
    }
}

/// Errors gathered by [`collect_error`], at most `limit`, counting the rest.
struct ErrorLog {
    errors: Vec<RawError>,
    limit: usize,
    dropped: usize,
}

unsafe extern "C" fn collect_error(data: *mut c_void, error: xml::xmlErrorPtr) {
    if data.is_null() || error.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `data` is the ErrorLog registered together with this function, alive
        // for as long as the registration (see ErrorCapture / Schema::validate); `error`
        // is valid for the duration of the call.
        let (log, e) = unsafe { (&mut *data.cast::<ErrorLog>(), &*error) };
        if log.errors.len() >= log.limit {
            log.dropped += 1;
            return;
        }
        // SAFETY: strings in xmlError are NUL-terminated or NULL.
        let text = |p: *mut c_char| unsafe { c_string(p) };
        log.errors.push(RawError {
            level: e.level,
            code: e.code,
            message: text(e.message).unwrap_or_default().trim_end().to_owned(),
            file: text(e.file),
            line: e.line,
            column: e.int2,
            inserted: [e.str1, e.str2, e.str3]
                .into_iter()
                .filter_map(text)
                .collect(),
            node: e.node.cast_const().cast(),
        });
    });
}

/// Routes libxml2's thread-wide error reports (those not tied to a schema context, such
/// as parser errors) into an [`ErrorLog`] until dropped, so nothing is printed to stderr
/// (where document content could end up in logs).
struct ErrorCapture {
    log: Box<ErrorLog>,
    previous: (xml::xmlStructuredErrorFunc, *mut c_void),
}

impl ErrorCapture {
    fn install(limit: usize) -> Self {
        let mut log = Box::new(ErrorLog {
            errors: Vec::new(),
            limit,
            dropped: 0,
        });
        // SAFETY: the accessors return this thread's libxml2 globals; the log is boxed,
        // so its address stays valid until `drop` restores the previous handler.
        unsafe {
            let previous = (
                *xml::__xmlStructuredError(),
                *xml::__xmlStructuredErrorContext(),
            );
            xml::xmlSetStructuredErrorFunc(
                (&mut *log as *mut ErrorLog).cast(),
                Some(collect_error),
            );
            Self { log, previous }
        }
    }

    fn log_ptr(&mut self) -> *mut c_void {
        (&mut *self.log as *mut ErrorLog).cast()
    }
}

impl Drop for ErrorCapture {
    fn drop(&mut self) {
        // SAFETY: restores this thread's handler as it was before `install`.
        unsafe { xml::xmlSetStructuredErrorFunc(self.previous.1, self.previous.0) };
    }
}

// ---------------------------------------------------------------------------------------
// Compiling.

/// Why a pack did not compile.
pub(crate) enum CompileFailure {
    /// The schemas refer to URLs the pack cannot resolve (nothing was fetched).
    NotInPack(Vec<String>),
    /// A file the pack resolved could not be read: (pack path, reason).
    Unreadable(Vec<(String, String)>),
    /// libxml2's schema compiler reported errors (file:line: message).
    Errors(Vec<String>),
}

/// A compiled schema. Read-only after compilation, so it may be shared between threads.
pub(crate) struct Schema {
    ptr: ptr::NonNull<xml::xmlSchema>,
}

// SAFETY: libxml2 never mutates an xmlSchema after xmlSchemaParse returned it; validation
// contexts only read it. Freeing happens in Drop, when no other reference exists.
unsafe impl Send for Schema {}
// SAFETY: see Send; concurrent xmlSchemaValidateDoc calls with separate validation
// contexts on one schema are supported by libxml2.
unsafe impl Sync for Schema {}

impl Drop for Schema {
    fn drop(&mut self) {
        // SAFETY: we own the schema; nothing else points to it once we are dropped.
        unsafe { xml::xmlSchemaFree(self.ptr.as_ptr()) };
    }
}

impl Schema {
    /// Compiles the schema whose entry document is at `entry` (a pack path), loading
    /// everything through `resolver`.
    pub fn compile(resolver: Arc<Resolver>, entry: &str) -> Result<Self, CompileFailure> {
        init();
        let entry_url = CString::new(resolver.virtual_url(entry))
            .map_err(|_| CompileFailure::Errors(vec!["entry path contains NUL".into()]))?;
        let mut capture = ErrorCapture::install(200);
        let scope = ScopeGuard::enter(Scope::Compile {
            resolver,
            refused: Vec::new(),
            unreadable: Vec::new(),
        });
        // SAFETY: plain libxml2 calls; the parser context is freed before returning and
        // the error log outlives it.
        let schema = unsafe {
            let pctxt = xml::xmlSchemaNewParserCtxt(entry_url.as_ptr());
            if pctxt.is_null() {
                return Err(CompileFailure::Errors(vec![
                    "libxml2 could not create a schema parser context".into(),
                ]));
            }
            xml::xmlSchemaSetParserStructuredErrors(pctxt, Some(collect_error), capture.log_ptr());
            let schema = xml::xmlSchemaParse(pctxt);
            xml::xmlSchemaFreeParserCtxt(pctxt);
            schema
        };
        let schema = ptr::NonNull::new(schema).map(|ptr| Schema { ptr });
        let Some(Scope::Compile {
            refused,
            unreadable,
            ..
        }) = scope.finish()
        else {
            unreachable!("the scope set above");
        };
        capture.previous_restore();
        if !refused.is_empty() {
            let mut urls = refused;
            urls.dedup();
            return Err(CompileFailure::NotInPack(urls));
        }
        if !unreadable.is_empty() {
            return Err(CompileFailure::Unreadable(unreadable));
        }
        match schema {
            Some(schema) => Ok(schema),
            None => {
                let mut errors: Vec<String> = capture
                    .log
                    .errors
                    .iter()
                    .filter(|e| e.is_error())
                    .map(|e| match &e.file {
                        Some(file) => format!("{file}:{}: {}", e.line, e.message),
                        None => e.message.clone(),
                    })
                    .collect();
                if errors.is_empty() {
                    errors.push("libxml2 reported no details".into());
                }
                Err(CompileFailure::Errors(errors))
            }
        }
    }

    /// The schema's target namespace, as libxml2 read it from the entry document.
    pub fn target_namespace(&self) -> Option<String> {
        // SAFETY: the schema is alive; targetNamespace is NULL or a dict string.
        unsafe { c_string((*self.ptr.as_ptr()).targetNamespace.cast()) }
    }
}

impl ErrorCapture {
    /// Restores the previous handler now, keeping the collected log readable.
    fn previous_restore(&mut self) -> &mut Self {
        // SAFETY: as in Drop; restoring twice is harmless.
        unsafe { xml::xmlSetStructuredErrorFunc(self.previous.1, self.previous.0) };
        self
    }
}

// ---------------------------------------------------------------------------------------
// Validating.

/// Parser options for documents: no network, no DTD loading or default attributes from
/// a DTD, no entity substitution (libxml2's defaults already, spelled out here so a later
/// edit does not add them by accident), no XInclude. `XML_PARSE_HUGE` lifts libxml2's own
/// 10 MB text-node limit: our limits ([`crate::Limits`]) have been enforced by the
/// sniffer before libxml2 sees the document, and they allow large inline attachments.
const DOCUMENT_OPTIONS: c_int = (xml::xmlParserOption_XML_PARSE_NONET
    | xml::xmlParserOption_XML_PARSE_HUGE
    | xml::xmlParserOption_XML_PARSE_COMPACT) as c_int;

/// Why libxml2 could not validate a document.
pub(crate) enum DocumentFailure {
    /// The parser rejected the document (first error: line, column, code).
    NotWellFormed { line: i32, column: i32, code: i32 },
    /// The document carries a DTD (the sniffer refuses these, so this is a backstop).
    HasDtd,
    /// libxml2 failed internally (out of memory, size beyond its API).
    Internal(String),
}

/// A validation error with the facts about its node, computed while the tree exists.
pub(crate) struct NodeError {
    pub error: RawError,
    pub node: Option<NodeFacts>,
}

/// Where an error's node is in the document.
pub(crate) struct NodeFacts {
    /// Index of its element (the attribute's owner element for an attribute) in document
    /// order, 0 for the root.
    pub element_index: usize,
    /// Path steps from the root: (prefix, local name, position among same-named
    /// siblings if there are several).
    pub steps: Vec<(Option<String>, String, Option<usize>)>,
    /// Attribute (prefix, local name) when the error is about an attribute.
    pub attribute: Option<(Option<String>, String)>,
    /// The names libxml2 uses for the node in messages: `{ns}local` of the element, and
    /// of the attribute if any.
    pub element_qname: String,
    pub attribute_qname: Option<String>,
}

/// The outcome of validating one document.
pub(crate) struct Outcome {
    pub valid: bool,
    pub errors: Vec<NodeError>,
    pub dropped: usize,
}

impl Schema {
    /// Parses `xml` with hardened options and validates it, keeping at most
    /// `max_errors` errors.
    pub fn validate(&self, xml: &[u8], max_errors: usize) -> Result<Outcome, DocumentFailure> {
        init();
        let len = c_int::try_from(xml.len()).map_err(|_| {
            DocumentFailure::Internal("document larger than libxml2 can parse (2 GiB)".into())
        })?;
        let mut capture = ErrorCapture::install(max_errors);
        let _scope = ScopeGuard::enter(Scope::Document);

        // SAFETY: the parser context is freed right after reading; the document is owned
        // by `Doc` and freed when it drops, after every node pointer has been used.
        let doc = unsafe {
            let pctxt = xml::xmlNewParserCtxt();
            if pctxt.is_null() {
                return Err(DocumentFailure::Internal("no parser context".into()));
            }
            let doc = xml::xmlCtxtReadMemory(
                pctxt,
                xml.as_ptr().cast(),
                len,
                ptr::null(),
                ptr::null(),
                DOCUMENT_OPTIONS,
            );
            xml::xmlFreeParserCtxt(pctxt);
            Doc(doc)
        };
        if doc.0.is_null() {
            let first = capture.log.errors.iter().find(|e| e.is_error());
            return Err(match first {
                Some(e) => DocumentFailure::NotWellFormed {
                    line: e.line,
                    column: e.column,
                    code: e.code,
                },
                None => DocumentFailure::Internal("libxml2 returned no document".into()),
            });
        }
        // SAFETY: doc is a valid document.
        if unsafe { !(*doc.0).intSubset.is_null() || !(*doc.0).extSubset.is_null() } {
            return Err(DocumentFailure::HasDtd);
        }
        capture.log.errors.clear();

        // SAFETY: a fresh validation context per call (they are not thread-safe), freed
        // before the document; the error log outlives it.
        let rc = unsafe {
            let vctxt = xml::xmlSchemaNewValidCtxt(self.ptr.as_ptr());
            if vctxt.is_null() {
                return Err(DocumentFailure::Internal("no validation context".into()));
            }
            xml::xmlSchemaSetValidStructuredErrors(vctxt, Some(collect_error), capture.log_ptr());
            let rc = xml::xmlSchemaValidateDoc(vctxt, doc.0);
            xml::xmlSchemaFreeValidCtxt(vctxt);
            rc
        };
        capture.previous_restore();
        if rc < 0 {
            return Err(DocumentFailure::Internal(format!(
                "libxml2 schema validation failed internally ({rc})"
            )));
        }
        let raw = std::mem::take(&mut capture.log.errors);
        let dropped = capture.log.dropped;
        // SAFETY: every node pointer in `raw` belongs to `doc`, which is still alive.
        let errors = unsafe { describe_nodes(doc.0, raw) };
        Ok(Outcome {
            valid: rc == 0 && errors.iter().all(|e| !e.error.is_error()),
            errors,
            dropped,
        })
    }
}

/// Owns a parsed document.
struct Doc(xml::xmlDocPtr);

impl Drop for Doc {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: we own the document.
            unsafe { xml::xmlFreeDoc(self.0) };
        }
    }
}

/// Attaches position facts to each error's node.
///
/// # Safety
/// `doc` must be alive and every `node` in `errors` must be NULL or a node of `doc`.
unsafe fn describe_nodes(doc: xml::xmlDocPtr, errors: Vec<RawError>) -> Vec<NodeError> {
    // SAFETY: per the contract.
    let root = unsafe { xml::xmlDocGetRootElement(doc) };
    let mut order: Option<std::collections::HashMap<*const xml::xmlNode, usize>> = None;
    errors
        .into_iter()
        .map(|error| {
            // SAFETY: per the contract; an unknown node falls back to the root.
            let node = unsafe { describe(error.node, root, &mut order) };
            NodeError { error, node }
        })
        .collect()
}

unsafe fn describe(
    node: *const xml::xmlNode,
    root: *const xml::xmlNode,
    order: &mut Option<std::collections::HashMap<*const xml::xmlNode, usize>>,
) -> Option<NodeFacts> {
    // SAFETY (whole function): nodes and their ancestors are alive (caller's contract);
    // xmlAttr starts with the same fields as xmlNode up to `ns`, and only those are read
    // through an attribute pointer.
    unsafe {
        let mut node = if node.is_null() { root } else { node };
        if node.is_null() {
            return None;
        }
        let mut attribute = None;
        let mut attribute_qname = None;
        if (*node).type_ == xml::xmlElementType_XML_ATTRIBUTE_NODE {
            attribute = Some((prefix_of(node), text(((*node).name).cast())));
            attribute_qname = Some(qname_of(node));
            node = (*node).parent;
        }
        // Text and other children: report their element.
        while !node.is_null() && (*node).type_ != xml::xmlElementType_XML_ELEMENT_NODE {
            node = (*node).parent;
        }
        if node.is_null() {
            node = root;
            if node.is_null() {
                return None;
            }
        }
        let order = order.get_or_insert_with(|| element_order(root));
        let element_index = order.get(&node).copied().unwrap_or(0);

        let mut steps = Vec::new();
        let mut cur = node;
        while !cur.is_null() && (*cur).type_ == xml::xmlElementType_XML_ELEMENT_NODE {
            steps.push((
                prefix_of(cur),
                text((*cur).name.cast()),
                sibling_position(cur),
            ));
            cur = (*cur).parent;
        }
        steps.reverse();
        Some(NodeFacts {
            element_index,
            steps,
            attribute,
            element_qname: qname_of(node),
            attribute_qname,
        })
    }
}

/// Document-order index of every element below (and including) `root`.
unsafe fn element_order(
    root: *const xml::xmlNode,
) -> std::collections::HashMap<*const xml::xmlNode, usize> {
    let mut order = std::collections::HashMap::new();
    // SAFETY: walks a live tree through its child/sibling/parent links.
    unsafe {
        let mut cur = root;
        while !cur.is_null() {
            if (*cur).type_ == xml::xmlElementType_XML_ELEMENT_NODE {
                let next = order.len();
                order.insert(cur, next);
                if !(*cur).children.is_null() {
                    cur = (*cur).children;
                    continue;
                }
            }
            // Next sibling, or climb until an ancestor has one (stop at the root).
            loop {
                if cur == root {
                    return order;
                }
                if !(*cur).next.is_null() {
                    cur = (*cur).next;
                    break;
                }
                cur = (*cur).parent;
                if cur.is_null() {
                    return order;
                }
            }
        }
    }
    order
}

/// 1-based position among siblings with the same name and namespace, `None` if the
/// element is the only one.
unsafe fn sibling_position(node: *const xml::xmlNode) -> Option<usize> {
    // SAFETY: live sibling links of a live element.
    unsafe {
        let same = |other: *const xml::xmlNode| {
            (*other).type_ == xml::xmlElementType_XML_ELEMENT_NODE
                && CStr::from_ptr((*other).name.cast()) == CStr::from_ptr((*node).name.cast())
                && ns_href(other) == ns_href(node)
        };
        let mut before = 0;
        let mut cur = (*node).prev.cast_const();
        while !cur.is_null() {
            if same(cur) {
                before += 1;
            }
            cur = (*cur).prev;
        }
        let mut after = false;
        let mut cur = (*node).next.cast_const();
        while !cur.is_null() && !after {
            after = same(cur);
            cur = (*cur).next;
        }
        (before > 0 || after).then_some(before + 1)
    }
}

unsafe fn ns_href(node: *const xml::xmlNode) -> Option<&'static CStr> {
    // SAFETY: ns is NULL or a live namespace of the document; the 'static lifetime never
    // escapes the comparison it is used in.
    unsafe {
        let ns = (*node).ns;
        (!ns.is_null() && !(*ns).href.is_null()).then(|| CStr::from_ptr((*ns).href.cast()))
    }
}

unsafe fn prefix_of(node: *const xml::xmlNode) -> Option<String> {
    // SAFETY: as in ns_href.
    unsafe {
        let ns = (*node).ns;
        if ns.is_null() {
            None
        } else {
            c_string((*ns).prefix.cast())
        }
    }
}

/// `{namespace}local` or `local`, as libxml2's schema messages name a node.
unsafe fn qname_of(node: *const xml::xmlNode) -> String {
    // SAFETY: as in ns_href.
    unsafe {
        let local = text((*node).name.cast());
        match ns_href(node) {
            Some(href) => format!("{{{}}}{local}", href.to_string_lossy()),
            None => local,
        }
    }
}

unsafe fn text(p: *const c_char) -> String {
    // SAFETY: NUL-terminated or NULL.
    unsafe { c_string(p) }.unwrap_or_default()
}
