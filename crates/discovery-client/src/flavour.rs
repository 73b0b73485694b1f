//! What the two flavours share: the builder methods of a call (generated into both
//! `MethodCall` types so their APIs match name for name).

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
            ))
        }
    };
}

pub(crate) use call_builder_methods;
