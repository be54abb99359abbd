// pyexec's Swagger UI set-up: the spec next to this page, no validator
// badge (it would call validator.swagger.io), nothing loaded from elsewhere.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "doc.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
};
