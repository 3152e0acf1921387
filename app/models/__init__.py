"""All models, imported here so that Alembic and FAB see one metadata."""
from .base import Model  # noqa: F401  (sets the naming convention first)
from .customer import Customer, CustomerKind, SportelloUser  # noqa: F401
from .supply import (DirectDebitMandate, MailingAddress, MandateStatus, Meter,  # noqa: F401
                     PaymentMethod, Service, SupplyPoint, SupplyStatus, UseType)
from .supply import supply_name  # noqa: F401
from .reading import MeterReading, ReadingSource, ReadingStatus, ReadingType  # noqa: F401
from .invoice import (DeliveryMode, Invoice, InvoiceDeliveryRecipient,  # noqa: F401
                      InvoiceDeliverySetting, InvoiceEmailLog, InvoiceLine, InvoiceStatus,
                      InvoiceType, Payment, PaymentChannel, SendOutcome)
from .activity import (Activity, ActivityHistory, ActivityKind, ActivityStatus,  # noqa: F401
                       Channel, Contact, ContactKind, ReminderLog)
from .contract import (Agent, Commission, CommissionRule, CommissionStatus, ContractDraft,  # noqa: F401
                       CommissionTrigger, Contract, ContractDocument, ContractHistory, ContractSignedCopy,
                       ContractStatus)
from .prospect import (ConsentChannel, ConsentSource, LostReason, Prospect,  # noqa: F401
                       ProspectConsent, ProspectHistory, ProspectInterest, ProspectSource,
                       ProspectStatus)
from .offer import Band, ComponentKind, Offer, OfferComponent, PriceKind  # noqa: F401
from .messaging import MessageTemplate, OutgoingMail, Setting  # noqa: F401
from .outbox import OutboxMessage, OutboxStatus  # noqa: F401
from .audit import AuditLog  # noqa: F401
from .sync import JobLease, JobRun, JobSchedule, SchedulerHeartbeat, SyncRun, SyncState  # noqa: F401
from .two_factor import TotpCredential, TotpRecoveryCode  # noqa: F401
from .api_token import ApiToken, TokenScope  # noqa: F401
from .export import ExportStatus, InvoiceExport  # noqa: F401
