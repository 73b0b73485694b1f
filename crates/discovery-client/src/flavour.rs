//! What the two flavours share: the builder methods of a call and the methods of a service
//! that neither block nor await (generated into both flavours' types so their APIs match
//! name for name).

/// Builder methods that forward to the sans-IO [`crate::Request`].
macro_rules! call_builder_methods {
    () => {
        /// Sets a parameter by its discovery name (see [`crate::Request::param`]).
        pub fn param(mut self, name: &str, value: impl Into<$crate::ParamValue>) -> Self {
            self.request.set_param(name, value.into());
            self
        }

        /// The JSON request body.
        pub fn body(mut self, body: serde_json::Value) -> Self {
            self.request = self.request.body(body);
            self
        }

        /// Media to upload.
        pub fn media(mut self, media: $crate::Media) -> Self {
            self.request = self.request.media(media);
            self
        }

        /// How media goes up (simple/multipart or resumable).
        pub fn upload_protocol(mut self, protocol: $crate::UploadProtocol) -> Self {
            self.request = self.request.upload_protocol(protocol);
            self
        }

        /// Asks for the media itself (`alt=media`).
        pub fn download(mut self) -> Self {
            self.request = self.request.download();
            self
        }

        /// Retries up to `n` times on 429, 5xx and rate-limit 403s (googleapiclient's
        /// `execute(num_retries=n)`).
        pub fn num_retries(mut self, n: u32) -> Self {
            self.options = self.options.num_retries(n);
            self
        }

        /// All call options at once.
        pub fn options(mut self, options: $crate::CallOptions) -> Self {
            self.options = options;
            self
        }

        /// The request that would be sent (credentials not applied): the dry run.
        pub fn prepare(&self) -> Result<$crate::PreparedRequest, $crate::Error> {
            self.request.prepare()
        }

        /// The sans-IO request.
        pub fn request(&self) -> &$crate::Request {
            &self.request
        }

        fn call(&self) -> Result<$crate::exchange::ApiCall, $crate::Error> {
            let prepared = self.request.prepare()?;
            Ok($crate::exchange::ApiCall::new(
                prepared,
                self.options,
                self.request.model_kind(),
                self.request.api.model.data_wrapper,
            )
            .on_origin(self.service.api.root_origin()))
        }
    };
}

pub(crate) use call_builder_methods;

/// The methods of a `Service` that neither block nor await: construction, options, finding
/// methods and resources, batches. `path` names the type in the doc examples.
macro_rules! service_methods {
    (client: $client:ident, default_client: $default:ty, path: $path:literal) => {
        /// A service over a parsed document (googleapiclient's `build_from_document`), on
        /// the credentials' transport (or the process-wide shared one).
        pub fn new(api: Api, credentials: Option<Credentials>) -> Service {
            let client: Arc<dyn $client> = match &credentials {
                Some(c) => Arc::clone(c.http_client()),
                None => <$default>::shared(),
            };
            Service {
                api,
                credentials,
                client,
                options: CallOptions::default(),
            }
        }

        /// Uses another transport (tests pass a local client).
        pub fn with_http_client(mut self, client: Arc<dyn $client>) -> Service {
            self.client = client;
            self
        }

        /// Default options for every call.
        pub fn with_call_options(mut self, options: CallOptions) -> Service {
            self.options = options;
            self
        }

        /// The parsed document.
        pub fn api(&self) -> &Api {
            &self.api
        }

        /// A method by dotted path (`files.list`).
        pub fn method(&self, path: &str) -> Result<MethodCall, Error> {
            Ok(self.call(self.api.method(path)?))
        }

        /// A resource by dotted path (`projects.locations`); its methods with
        /// [`Service::call`] (`service.call(service.resource("files")?.method("list")?)`).
        pub fn resource(&self, path: &str) -> Result<crate::Resource<'_>, Error> {
            let mut parts = path.split('.');
            let mut r = self.api.resource(parts.next().unwrap_or(""))?;
            for p in parts {
                r = r.resource(p)?;
            }
            Ok(r)
        }

        /// An empty batch for this API's `batchPath` (googleapiclient's
        /// `service.new_batch_http_request()`): up to 1000 calls in one HTTP request.
        ///
        /// ```
        /// # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"",
        /// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
        #[doc = concat!("let service = discovery_client::", $path, "::new(discovery_client::Api::from_document(doc)?, None);")]
        /// let mut batch = service.new_batch_http_request();
        /// assert_eq!(batch.add(service.method("ping")?)?, "1");
        /// assert_eq!(batch.request().url(), "http://127.0.0.1:1/batch");
        /// # Ok::<(), discovery_client::Error>(())
        /// ```
        pub fn new_batch_http_request(&self) -> Batch {
            Batch {
                batch: BatchRequest::for_api(&self.api),
                service: self.clone(),
            }
        }

        /// A call of a request built from the [`Api`].
        pub fn call(&self, request: Request) -> MethodCall {
            MethodCall {
                request,
                service: self.clone(),
                options: self.options,
            }
        }
    };
}

pub(crate) use service_methods;
