package requirements

// mapping is one entry of the import table.
type mapping struct{ imp, dist string }

// importTable lists, for import names (a top-level module, or a dotted
// prefix for namespace packages), the distribution that provides them,
// where the two differ beyond PEP 503 normalisation. Imports not listed
// install the distribution of their top-level name. An array of string
// pairs is laid out by the linker: no code runs at package init (which
// also runs in every jail's init) and no lookup allocates. A map would be
// built at init.
var importTable = [...]mapping{
	// data science, imaging, machine learning
	{"sklearn", "scikit-learn"},
	{"skimage", "scikit-image"},
	{"PIL", "pillow"},
	{"cv2", "opencv-python"},
	{"mpl_toolkits", "matplotlib"},
	{"pylab", "matplotlib"},
	{"umap", "umap-learn"},
	{"Bio", "biopython"},
	{"osgeo", "GDAL"},
	{"community", "python-louvain"},
	{"fitz", "PyMuPDF"},
	{"pdfminer", "pdfminer.six"},
	{"fontTools", "fonttools"},
	{"faiss", "faiss-cpu"},
	{"absl", "absl-py"},
	{"tree", "dm-tree"},
	{"sonnet", "dm-sonnet"},
	{"haiku", "dm-haiku"},
	{"cpuinfo", "py-cpuinfo"},
	{"talib", "TA-Lib"},
	{"tabula", "tabula-py"},
	{"camelot", "camelot-py"},
	{"weaviate", "weaviate-client"},
	{"markdown_it", "markdown-it-py"},
	{"rpds", "rpds-py"},
	{"proto", "proto-plus"},
	{"pyximport", "Cython"},
	{"speech_recognition", "SpeechRecognition"},
	{"vlc", "python-vlc"},
	{"ffmpeg", "ffmpeg-python"},

	// formats, parsing, text
	{"yaml", "PyYAML"},
	{"bs4", "beautifulsoup4"},
	{"dateutil", "python-dateutil"},
	{"docx", "python-docx"},
	{"pptx", "python-pptx"},
	{"odf", "odfpy"},
	{"magic", "python-magic"},
	{"slugify", "python-slugify"},
	{"multipart", "python-multipart"},
	{"fpdf", "fpdf2"},
	{"barcode", "python-barcode"},
	{"antlr4", "antlr4-python3-runtime"},
	{"newspaper", "newspaper3k"},
	{"readability", "readability-lxml"},
	{"enchant", "pyenchant"},
	{"spellchecker", "pyspellchecker"},
	{"cleantext", "clean-text"},
	{"ulid", "python-ulid"},
	{"attr", "attrs"},
	{"dotenv", "python-dotenv"},
	{"decouple", "python-decouple"},
	{"crontab", "python-crontab"},
	{"past", "future"},
	{"libfuturize", "future"},
	{"ruamel.yaml", "ruamel.yaml"},
	{"zope.interface", "zope.interface"},
	{"zope.event", "zope.event"},

	// security, crypto, auth
	{"jwt", "PyJWT"},
	{"jose", "python-jose"},
	{"OpenSSL", "pyOpenSSL"},
	{"Crypto", "pycryptodome"},
	{"Cryptodome", "pycryptodomex"},
	{"nacl", "PyNaCl"},
	{"argon2", "argon2-cffi"},
	{"gnupg", "python-gnupg"},
	{"ldap", "python-ldap"},

	// web, networking, messaging
	{"git", "GitPython"},
	{"github", "PyGithub"},
	{"gitlab", "python-gitlab"},
	{"jenkins", "python-jenkins"},
	{"telegram", "python-telegram-bot"},
	{"telebot", "pyTelegramBotAPI"},
	{"discord", "discord.py"},
	{"slack", "slackclient"},
	{"socketio", "python-socketio"},
	{"engineio", "python-engineio"},
	{"websocket", "websocket-client"},
	{"socks", "PySocks"},
	{"sockshandler", "PySocks"},
	{"dns", "dnspython"},
	{"zmq", "pyzmq"},
	{"kafka", "kafka-python"},
	{"nats", "nats-py"},
	{"pulsar", "pulsar-client"},
	{"paho", "paho-mqtt"},
	{"paho.mqtt", "paho-mqtt"},
	{"grpc", "grpcio"},
	{"grpc_tools", "grpcio-tools"},
	{"grpc_status", "grpcio-status"},
	{"grpc_health", "grpcio-health-checking"},
	{"grpc_reflection", "grpcio-reflection"},
	{"strawberry", "strawberry-graphql"},
	{"webview", "pywebview"},
	{"consul", "python-consul"},
	{"nmap", "python-nmap"},
	{"whois", "python-whois"},
	{"memcache", "python-memcached"},
	{"snappy", "python-snappy"},

	// databases
	{"MySQLdb", "mysqlclient"},
	{"mysql", "mysql-connector-python"},
	{"mysql.connector", "mysql-connector-python"},
	{"psycopg2", "psycopg2-binary"},
	{"bson", "pymongo"},
	{"gridfs", "pymongo"},
	{"cassandra", "cassandra-driver"},
	{"tortoise", "tortoise-orm"},
	{"snowflake", "snowflake-connector-python"},
	{"snowflake.connector", "snowflake-connector-python"},
	{"snowflake.snowpark", "snowflake-snowpark-python"},
	{"databricks.sql", "databricks-sql-connector"},
	{"databricks.sdk", "databricks-sdk"},

	// Django apps
	{"rest_framework", "djangorestframework"},
	{"corsheaders", "django-cors-headers"},
	{"debug_toolbar", "django-debug-toolbar"},
	{"django_filters", "django-filter"},
	{"crispy_forms", "django-crispy-forms"},
	{"environ", "django-environ"},
	{"storages", "django-storages"},
	{"allauth", "django-allauth"},

	// Google, Azure, OpenTelemetry namespaces
	{"googleapiclient", "google-api-python-client"},
	{"apiclient", "google-api-python-client"},
	{"google.protobuf", "protobuf"},
	{"google.auth", "google-auth"},
	{"google.oauth2", "google-auth"},
	{"google.api_core", "google-api-core"},
	{"google.api", "googleapis-common-protos"},
	{"google.rpc", "googleapis-common-protos"},
	{"google.type", "googleapis-common-protos"},
	{"google.generativeai", "google-generativeai"},
	{"google.genai", "google-genai"},
	{"google.cloud.pubsub_v1", "google-cloud-pubsub"},
	{"google.cloud.bigquery", "google-cloud-bigquery"},
	{"google.cloud.storage", "google-cloud-storage"},
	{"google.cloud.firestore", "google-cloud-firestore"},
	{"google.cloud.aiplatform", "google-cloud-aiplatform"},
	{"azure.storage.blob", "azure-storage-blob"},
	{"azure.storage.queue", "azure-storage-queue"},
	{"azure.identity", "azure-identity"},
	{"azure.core", "azure-core"},
	{"azure.cosmos", "azure-cosmos"},
	{"azure.keyvault.secrets", "azure-keyvault-secrets"},
	{"opentelemetry", "opentelemetry-api"},
	{"opentelemetry.sdk", "opentelemetry-sdk"},

	// operating system, hardware, desktop
	{"serial", "pyserial"},
	{"serial_asyncio", "pyserial-asyncio"},
	{"usb", "pyusb"},
	{"bluetooth", "pybluez"},
	{"RPi", "RPi.GPIO"},
	{"can", "python-can"},
	{"Xlib", "python-xlib"},
	{"wx", "wxPython"},
	{"gi", "PyGObject"},
	{"cairo", "pycairo"},
	{"OpenGL", "PyOpenGL"},
	{"win32api", "pywin32"},
	{"win32con", "pywin32"},
	{"win32com", "pywin32"},
	{"win32gui", "pywin32"},
	{"pythoncom", "pywin32"},
	{"pywintypes", "pywin32"},
	{"_cffi_backend", "cffi"},

	// packaging and testing
	{"pkg_resources", "setuptools"},
	{"distutils", "setuptools"}, // 3.12+: gone from the standard library
	{"xdist", "pytest-xdist"},
	{"factory", "factory-boy"},
}

// table is importTable as a slice.
func table() []mapping { return importTable[:] }

// alternatives lists other distributions that provide the same import: a
// request naming one of them keeps detection from adding the default.
func alternatives(imp string) []string {
	switch imp {
	case "cv2":
		return []string{"opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"}
	case "PIL":
		return []string{"Pillow-SIMD"}
	case "psycopg2":
		return []string{"psycopg2"}
	case "Crypto":
		return []string{"pycrypto"}
	case "magic":
		return []string{"python-magic-bin"}
	case "faiss":
		return []string{"faiss-gpu"}
	case "kafka":
		return []string{"kafka-python-ng"}
	case "telegram":
		return []string{"python-telegram-bot-raw"}
	case "fpdf":
		return []string{"fpdf"}
	case "ulid":
		return []string{"ulid-py"}
	}
	return nil
}

// namespaceRoot reports top-level names shared by many distributions: an
// import of one of them that no entry matches is not guessed.
func namespaceRoot(top string) bool {
	switch top {
	case "google", "azure", "ruamel", "zope", "backports", "databricks", "jaraco", "sphinxcontrib", "plone", "oslo":
		return true
	}
	return false
}
